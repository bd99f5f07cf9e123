import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Media

@Suite struct PlotTests {
    /// Element counts and text content of an XML document, or `nil` when it does not parse.
    final class XMLSummary: NSObject, XMLParserDelegate {
        var counts: [String: Int] = [:]
        var texts: [String] = []
        private var current: String?

        static func parse(_ xml: String) -> XMLSummary? {
            let summary = XMLSummary()
            let parser = XMLParser(data: Data(xml.utf8))
            parser.delegate = summary
            return parser.parse() ? summary : nil
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            counts[name, default: 0] += 1
            if name == "text" { current = "" }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let text = current { texts.append(text) }
            current = nil
        }
    }

    static let fidPlot = LinePlot(
        title: "FID vs NFE", xLabel: "NFE", yLabel: "FID ↓", xScale: .log10, yScale: .linear,
        series: [
            .init("DDIM", x: [10, 20, 50, 100, 1000], y: [25, 12, 7, 5.5, 4.9]),
            .init("SkipStep <ε, t_c> & co", x: [10, 20, 50, 100], y: [15, 8, 6, 5.2]),
            .init("no data", points: []),
        ])

    /// The pixels of `image` (RGB) that have exactly `color`.
    static func pixels(of color: PlotColor, in image: Image8) -> [(x: Int, y: Int)] {
        (0..<image.width * image.height).compactMap { i in
            let p = image.pixels[3 * i ..< 3 * i + 3]
            return Array(p) == [color.red, color.green, color.blue] ? (i % image.width, i / image.width) : nil
        }
    }

    /// The centre and size of the bounding box of `color`'s pixels.
    static func box(of color: PlotColor, in image: Image8) -> (x: Double, y: Double, width: Int, height: Int)? {
        let points = pixels(of: color, in: image)
        guard let x0 = points.map(\.x).min(), let x1 = points.map(\.x).max(),
              let y0 = points.map(\.y).min(), let y1 = points.map(\.y).max() else { return nil }
        return (Double(x0 + x1) / 2, Double(y0 + y1) / 2, x1 - x0 + 1, y1 - y0 + 1)
    }

    /// The plot frame found in the raster alone: the rows and columns more than half black.
    static func frame(in image: Image8) -> (left: Int, top: Int, right: Int, bottom: Int) {
        func black(_ x: Int, _ y: Int) -> Bool {
            let i = 3 * (y * image.width + x)
            return image.pixels[i ..< i + 3].allSatisfy { $0 == 0 }
        }
        let rows = (0..<image.height).filter { y in (0..<image.width).count { black($0, y) } > image.width / 2 }
        let columns = (0..<image.width).filter { x in (0..<image.height).count { black(x, $0) } > image.height / 2 }
        return (columns.first ?? -1, rows.first ?? -1, columns.last ?? -1, rows.last ?? -1)
    }

    @Test func svgIsXMLWithOnePolylinePerSeriesAndTheLegend() throws {
        let svg = Self.fidPlot.svg()
        let summary = try #require(XMLSummary.parse(svg), "the SVG does not parse:\n\(svg)")
        #expect(summary.counts["svg"] == 1)
        #expect(summary.counts["polyline"] == 2)
        #expect(summary.counts["circle"] == 5 + 2)  // series 0's markers, legend markers of series 0 and 2
        let expected = ["FID vs NFE", "NFE", "FID ↓", "DDIM", "SkipStep <ε, t_c> & co", "no data",
                        "10", "20", "50", "1000"]
        for text in expected {
            #expect(summary.texts.contains(text), "no <text> \(text)")
        }
        #expect(svg.hasPrefix("""
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="640" height="420" viewBox="0 0 640 420"
            """))
        #expect(svg.contains("font-family=\"sans-serif\""))
        #expect(svg.contains("SkipStep &lt;ε, t_c&gt; &amp; co"))
        #expect(svg.contains("stroke=\"#0072B2\"") && svg.contains("stroke=\"#D55E00\""))
    }

    @Test func renderingIsDeterministic() {
        #expect(Self.fidPlot.svg() == Self.fidPlot.svg())
        #expect(Self.fidPlot.rasterized(width: 480, height: 320) == Self.fidPlot.rasterized(width: 480, height: 320))
        #expect(Self.fidPlot.svg(width: 500, height: 300) != Self.fidPlot.svg())
    }

    @Test func unplaceablePointsBreakTheLine() throws {
        let plot = LinePlot(xScale: .log10, series: [
            .init("broken", x: [1, 2, .nan, 4, 5, 0, 7, 8], y: [1, 2, 3, 4, .infinity, 6, 7, 8]),
        ])
        let svg = plot.svg()
        let polylines = svg.split(separator: "\n").filter { $0.hasPrefix("<polyline") }
        #expect(polylines.count == 2)  // 1–2 and 7–8; 4 is alone, 5 (y = ∞) and 6 (x = 0 on a log axis) are skipped
        #expect(polylines.allSatisfy { $0.split(separator: ",").count == 3 })
        #expect(svg.components(separatedBy: "<circle").count - 1 == 5 + 1)  // 1, 2, 4, 7, 8 and the legend
    }

    @Test(arguments: [[], [(x: Double.nan, y: 1.0), (x: 2, y: .nan)]])
    func plotsWithoutDrawablePointsDrawAxesOnly(points: [(x: Double, y: Double)]) throws {
        let plot = LinePlot(title: "empty", xScale: .log10, series: [.init("nothing", points: points)], legend: .none)
        let summary = try #require(XMLSummary.parse(plot.svg()))
        #expect(summary.counts["polyline"] == nil && summary.counts["circle"] == nil)
        #expect(summary.texts.contains("1") && summary.texts.contains("10"))
        let image = plot.rasterized(width: 300, height: 200)
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 0), in: image).isEmpty)
        let frame = Self.frame(in: image)
        #expect(frame.left > 0 && frame.right > frame.left && frame.bottom > frame.top)
    }

    @Test func markersLandWhereTheDataSays() throws {
        // One marker per series, no legend and no line: each colour's pixels are exactly a marker.
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("a", points: [(2.5, 7.5)]), .init("b", points: [(10, 0)])], legend: .none)
        let image = plot.rasterized(width: 400, height: 300)
        let frame = Self.frame(in: image)
        let layout = PlotLayout(plot, width: 400, height: 300, charWidth: 12, lineHeight: 16)
        #expect(frame == (layout.left, layout.top, layout.right, layout.bottom))

        let a = try #require(Self.box(of: LinePlot.color(ofSeries: 0), in: image))
        #expect(a.width == 7 && a.height == 7)
        #expect(a.x == (Double(frame.left) + 0.25 * Double(frame.right - frame.left)).rounded())
        #expect(a.y == (Double(frame.bottom) - 0.75 * Double(frame.bottom - frame.top)).rounded())
        let b = try #require(Self.box(of: LinePlot.color(ofSeries: 1), in: image))
        #expect(b.width == 7 && b.height == 7 && b.x == Double(frame.right) && b.y == Double(frame.bottom))
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 1), in: image).count == 49)  // a square
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 0), in: image).count == 37)  // a disc
    }

    @Test func markerShapesAlternateOverTheSeriesThatHaveMarkers() throws {
        // Mix, its DDIM level (no markers), the next Mix, its level, a third Mix: disc, square, disc.
        let level = LinePlot.Series("level", points: [(0, 1), (10, 1)], dashed: true, markers: false)
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("a", points: [(2, 2)]), level, .init("b", points: [(5, 5)]), level,
                                     .init("c", points: [(8, 8)])], legend: .none)
        let image = plot.rasterized(width: 400, height: 300)
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 0), in: image).count == 37)  // a disc
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 2), in: image).count == 49)  // a square
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 4), in: image).count == 37)  // a disc
        let svg = plot.svg()
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
        #expect(svg.contains("fill=\"\(LinePlot.color(ofSeries: 2).hex)\"/>"))  // the square's <rect>
    }

    @Test func aDashedReferenceLineTakesItsColourAndLeavesGaps() throws {
        // A dashed level without markers, in series 3's colour though it is series 1 (after a
        // series with no drawable points).
        let color = LinePlot.color(ofSeries: 3)
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("nothing", points: []),
                                     .init("level", points: [(0, 5), (10, 5)], color: color, dashed: true, markers: false)],
                            legend: .none)
        let svg = plot.svg()
        #expect(svg.contains("stroke=\"\(color.hex)\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-dasharray=\"6 4\""))
        #expect(!svg.contains("<circle") && !svg.contains("fill=\"\(color.hex)\""))
        let image = plot.rasterized(width: 400, height: 300)
        #expect(Self.pixels(of: LinePlot.color(ofSeries: 1), in: image).isEmpty)
        let pixels = Self.pixels(of: color, in: image)
        let xs = Set(pixels.map(\.x)).sorted()
        let layout = PlotLayout(plot, width: 400, height: 300, charWidth: 12, lineHeight: 16)
        // Dashes of 6 steps (7 columns with the 2-px brush) and gaps of 3 columns across the frame, 2 px thick.
        var dashes: [(start: Int, length: Int)] = []
        for x in xs {
            if let last = dashes.last, x == last.start + last.length { dashes[dashes.count - 1].length += 1 } else { dashes.append((x, 1)) }
        }
        #expect(dashes.first?.start == layout.left && (dashes.last.map { $0.start + $0.length } ?? 0) >= layout.right - 10)
        #expect(dashes.dropLast().allSatisfy { $0.length == 7 }, "dash lengths \(dashes.map(\.length))")
        #expect(zip(dashes, dashes.dropFirst()).allSatisfy { $1.start - ($0.start + $0.length) == 3 })
        #expect(Set(pixels.map(\.y)).count == 2)
    }

    @Test func logAxisSpacesDecadesEqually() throws {
        let plot = LinePlot(xScale: .log10, xRange: 10...1000, yRange: 0...1, series: [
            .init("10", points: [(10, 0.5)]), .init("100", points: [(100, 0.5)]), .init("1000", points: [(1000, 0.5)]),
        ], legend: .none)
        let image = plot.rasterized(width: 500, height: 300)
        let frame = Self.frame(in: image)
        let centres = try (0..<3).map { try #require(Self.box(of: LinePlot.color(ofSeries: $0), in: image)).x }
        #expect(centres[0] == Double(frame.left) && centres[2] == Double(frame.right))
        #expect(abs((centres[1] - centres[0]) - (centres[2] - centres[1])) <= 1)
        let layout = PlotLayout(plot, width: 500, height: 300, charWidth: 12, lineHeight: 16)
        #expect(layout.x.ticks.compactMap(\.label) == ["10", "20", "50", "100", "200", "500", "1000"])
        #expect(layout.x.ticks.count == 19)
    }

    @Test func ticks() {
        func labels(_ scale: LinePlot.Scale, _ range: ClosedRange<Double>?, _ values: [Double] = []) -> [String] {
            PlotAxis(scale: scale, range: range, values: values, name: "x").ticks.compactMap(\.label)
        }
        #expect(labels(.linear, 0...10) == ["0", "2", "4", "6", "8", "10"])
        #expect(labels(.linear, nil, [0.3, 9.7]) == ["0", "2", "4", "6", "8", "10"])
        #expect(labels(.linear, nil, [0.31, 0.52]) == ["0.30", "0.35", "0.40", "0.45", "0.50", "0.55"])
        #expect(labels(.linear, nil, [-0.2, 0.9]) == ["-0.2", "0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(labels(.linear, nil, [3, 3]) == ["2.7", "2.8", "2.9", "3.0", "3.1", "3.2", "3.3"])
        #expect(labels(.log10, nil, [3, 2000]) == ["1", "10", "100", "1000", "10000"])
        #expect(labels(.log10, 1e-20...1e20) == ["1e-20", "1e-15", "1e-10", "1e-5", "1", "100000", "1e10", "1e15", "1e20"])
        #expect(labels(.log10, 20...80) == ["20", "30", "40", "50", "60", "70", "80"])
        #expect(labels(.log10, 1e-5...1e-3) == ["1e-5", "2e-5", "5e-5", "0.0001", "0.0002", "0.0005", "0.001"])
        #expect(formatFixed(-0.0004, 3) == "0" + ".000" && formatFixed(-1.25, 1) == "-1.3" && formatFixed(7, 0) == "7")
    }

    @Test func fontDrawsTheGlyphForOne() {
        var canvas = Canvas(width: 6, height: 8, channels: 1)
        canvas.text("1", x: 0, y: 0, scale: 1, anchor: .start)
        let rows = (0..<8).map { y in String((0..<6).map { canvas.pixels[y * 6 + $0] == 0 ? "#" : "." }) }
        #expect(rows == ["..#...", ".##...", "..#...", "..#...", "..#...", "..#...", ".###..", "......"])

        var doubled = Canvas(width: 12, height: 16, channels: 1)
        doubled.text("1", x: 0, y: 0, scale: 2, anchor: .start)
        #expect(doubled.pixels.filter { $0 == 0 }.count == 4 * 10)
        #expect(BitmapFont.width("FID", scale: 2) == 34)
    }

    @Test func fontSubstitutesOrBoxesOtherCharacters() {
        #expect(BitmapFont.glyphs("ε t₀ é−x") == BitmapFont.glyphs("e t0 e-x"))
        #expect(BitmapFont.glyphs("Σ…") == BitmapFont.glyphs("S..."))
        #expect(BitmapFont.glyphs("a☃") == BitmapFont.glyphs("a") + [BitmapFont.box])
        #expect(BitmapFont.glyphs("a\u{7}b") == BitmapFont.glyphs("ab"))
    }

    @Test func labeledGridLaysOutRowsColumnsAndLabels() {
        let gray = Image8(width: 8, height: 8, channels: 1, pixels: (0..<64).map { UInt8($0) })
        let rgb = Image8(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 7, count: 192))
        let grid = Image8.labeledGrid(rows: [("a", [gray, gray]), ("bb", [rgb])], scale: 3, columnLabels: ["s0", "s1"])
        // Label column: 2 + "bb" (11 px × 2) + 6; cells 24 + 2; header: 2 + 16 + 2.
        #expect(grid.channels == 3 && grid.width == 30 + 2 * 26 && grid.height == 20 + 2 * 26)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] {
            let i = 3 * (y * grid.width + x)
            return Array(grid.pixels[i ..< i + 3])
        }
        #expect(pixel(30, 20) == [0, 0, 0] && pixel(32, 22) == [0, 0, 0] && pixel(33, 20) == [1, 1, 1])
        #expect(pixel(30 + 26 + 23, 20 + 23) == [63, 63, 63])
        #expect(pixel(30, 46) == [7, 7, 7] && pixel(30 + 26, 46) == [255, 255, 255])
        #expect(pixel(29, 20) == [255, 255, 255] && pixel(30 + 24, 20) == [255, 255, 255])
        #expect((0..<24).contains { y in (0..<26).contains { pixel($0, 20 + y) == [0, 0, 0] } })  // the label "a"
        #expect((0..<20).contains { y in (30..<54).contains { pixel($0, y) == [0, 0, 0] } })  // the label "s0"

        // "s0" (22 px at double size) is wider than a 16 px cell: single-size header, 2 + 8 + 2.
        #expect(Image8.labeledGrid(rows: [("a", [gray])], scale: 2, columnLabels: ["s0"]).height == 12 + 18)
        let plain = Image8.labeledGrid(rows: [("", [gray])])
        #expect(plain.channels == 1 && plain.width == 2 + 8 + 2 && plain.height == 2 + 8 + 2)
    }
}
