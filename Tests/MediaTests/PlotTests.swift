import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Media

@Suite struct PlotTests {
    static let fidPlot = LinePlot(
        title: "FID vs NFE", xLabel: "NFE", yLabel: "FID ↓", xScale: .log10, yScale: .linear,
        series: [
            .init("DDIM", x: [10, 20, 50, 100, 1000], y: [25, 12, 7, 5.5, 4.9]),
            .init("Mix (t_c = 291) <&>", x: [10, 20, 50, 100], y: [15, 8, 6, 5.2]),
            .init("no data", points: []),
        ])

    /// The line marks of `color` drawn at the series line width.
    static func seriesLines(_ drawing: PlotDrawing, _ color: PlotColor) -> [[(x: Double, y: Double)]] {
        drawing.marks.compactMap {
            if case let .line(points, c, width, _, _) = $0, c == color, width == PlotDrawing.lineWidth { points } else { nil }
        }
    }

    static func markers(_ drawing: PlotDrawing, _ color: PlotColor) -> [(x: Double, y: Double, square: Bool)] {
        drawing.marks.compactMap { if case let .marker(x, y, square, c) = $0, c == color { (x, y, square) } else { nil } }
    }

    @Test func theLegendSitsRightOfTheFrameAndNamesEverySeries() throws {
        let drawing = try Self.fidPlot.drawing()
        let legend = try #require(drawing.legend)
        #expect(legend.x > drawing.frame.right && legend.right <= drawing.width)
        for text in ["FID vs NFE", "NFE", "FID ↓", "DDIM", "Mix (tc = 291) <&>", "no data", "10", "100", "1000"] {
            #expect(drawing.texts.contains(text), "no text \(text) in \(drawing.texts)")
        }
        // Legend swatches: DDIM and Mix have lines and markers (circle, then square); "no data" a bare line.
        let swatches = Self.markers(drawing, LinePlot.color(ofSeries: 0)).filter { $0.x > drawing.frame.right }
        #expect(swatches.count == 1 && !swatches[0].square)
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 1)).allSatisfy { $0.square })

        let below = LinePlot(series: Self.fidPlot.series, legend: .below)
        let under = try below.drawing()
        #expect(try #require(under.legend).y > under.frame.bottom)
        let bare = try LinePlot(series: Self.fidPlot.series, legend: .none).drawing()
        #expect(bare.legend == nil)
    }

    @Test func pngSvgAndPdfComeFromOneDrawing() throws {
        let png = try Self.fidPlot.render(.png)
        let image = try Image8.decodePNG(png, path: "plot.png")
        #expect(image.width == 960 && image.height == 630 && image.channels == 3)
        let blue = LinePlot.color(ofSeries: 0)
        #expect(stride(from: 0, to: image.pixels.count, by: 3).contains { Array(image.pixels[$0 ..< $0 + 3]) == [blue.red, blue.green, blue.blue] })
        let small = try Image8.decodePNG(Self.fidPlot.render(.png, width: 320, height: 240), path: "small.png")
        #expect(small.width == 480 && small.height == 360)

        let svg = try #require(String(data: try Self.fidPlot.render(.svg), encoding: .utf8))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "the SVG does not parse")
        #expect(svg.contains("width=\"640pt\"") && svg.contains("height=\"420pt\""))
        #expect(svg.contains("<title>FID vs NFE</title>"))
        #expect(svg.contains("<desc>Series: DDIM; Mix (t_c = 291) &lt;&amp;&gt;; no data.</desc>"))
        #expect(svg.contains("rgb(0%,44.705882%,69.803922%)"))  // the blue line (#0072B2), in cairo's notation

        let pdf = try Self.fidPlot.render(.pdf)
        #expect(pdf.prefix(5) == Data("%PDF-".utf8) && pdf.count > 2000)
    }

    @Test func renderingIsDeterministic() throws {
        #expect(try Self.fidPlot.render(.png) == Self.fidPlot.render(.png))
        #expect(try Self.fidPlot.render(.svg) == Self.fidPlot.render(.svg))
        #expect(try Self.fidPlot.render(.pdf) == Self.fidPlot.render(.pdf))
        #expect(try Self.fidPlot.render(.png, width: 500, height: 300) != Self.fidPlot.render(.png))
    }

    @Test func badSizesAndRangesAreErrors() {
        #expect(throws: PlotError.tooSmall(width: 60, height: 40)) { try Self.fidPlot.render(.png, width: 60, height: 40) }
        #expect(throws: PlotError.self) { try LinePlot(xRange: 3...3).render(.svg) }
        #expect(throws: PlotError.self) { try LinePlot(xScale: .log10, xRange: -1...3).render(.png) }
    }

    @Test func unplaceablePointsBreakTheLine() throws {
        let plot = LinePlot(xScale: .log10, series: [
            .init("broken", x: [1, 2, .nan, 4, 5, 0, 7, 8], y: [1, 2, 3, 4, .infinity, 6, 7, 8]),
        ])
        let drawing = try plot.drawing()
        let lines = Self.seriesLines(drawing, LinePlot.color(ofSeries: 0)).filter { $0.count > 1 && $0[0].x < drawing.frame.right }
        // 1–2 and 7–8 (the legend swatch lies right of the frame); 4 is alone, 5 (y = ∞) and 6 (x = 0 on a log axis) are skipped.
        #expect(lines.map(\.count) == [2, 2])
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 0)).count == 5 + 1)  // 1, 2, 4, 7, 8 and the legend
    }

    @Test(arguments: [[], [(x: Double.nan, y: 1.0), (x: 2, y: .nan)]])
    func plotsWithoutDrawablePointsDrawAxesOnly(points: [(x: Double, y: Double)]) throws {
        let plot = LinePlot(title: "empty", xScale: .log10, series: [.init("nothing", points: points)], legend: .none)
        let drawing = try plot.drawing()
        #expect(Self.seriesLines(drawing, LinePlot.color(ofSeries: 0)).isEmpty && Self.markers(drawing, LinePlot.color(ofSeries: 0)).isEmpty)
        #expect(drawing.texts.contains("1") && drawing.texts.contains("10"))
        #expect(try Image8.decodePNG(plot.render(.png, width: 300, height: 200), path: "empty.png").width == 450)
    }

    @Test func markersLandWhereTheDataSays() throws {
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("a", points: [(2.5, 7.5)]), .init("b", points: [(10, 0)])], legend: .none)
        let drawing = try plot.drawing(width: 400, height: 300)
        let frame = drawing.frame
        let a = Self.markers(drawing, LinePlot.color(ofSeries: 0)), b = Self.markers(drawing, LinePlot.color(ofSeries: 1))
        #expect(a.count == 1 && abs(a[0].x - (frame.x + 0.25 * frame.width)) < 1e-9 && abs(a[0].y - (frame.bottom - 0.75 * frame.height)) < 1e-9)
        #expect(b.count == 1 && abs(b[0].x - frame.right) < 1e-9 && abs(b[0].y - frame.bottom) < 1e-9)
        #expect(!a[0].square && b[0].square)
        // In the raster: the disc's colour around its centre, at 1.5 px per point.
        let image = try plot.image(width: 400, height: 300)
        let (cx, cy) = (Int((a[0].x * 1.5).rounded()), Int((a[0].y * 1.5).rounded()))
        let i = 3 * (cy * image.width + cx)
        let blue = LinePlot.color(ofSeries: 0)
        #expect(Array(image.pixels[i ..< i + 3]) == [blue.red, blue.green, blue.blue])
    }

    @Test func onlySeriesWithFewPointsCarryMarkers() throws {
        let many = (1...560).map { (x: Double($0), y: 1 / Double($0)) }
        let few = (1...LinePlot.markerLimit).map { (x: Double($0) * 10, y: 0.5) }
        let drawing = try LinePlot(series: [.init("loss", points: many), .init("few", points: few)], legend: .none).drawing()
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 0)).isEmpty)
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 1)).count == LinePlot.markerLimit)
        // Shapes alternate over the series that show markers: here the second is the first to, so a disc.
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 1)).allSatisfy { !$0.square })
    }

    @Test func markerShapesAlternateOverTheSeriesThatHaveMarkers() throws {
        let level = LinePlot.Series("level", points: [(0, 1), (10, 1)], dashed: true, markers: false)
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("a", points: [(2, 2)]), level, .init("b", points: [(5, 5)]), level,
                                     .init("c", points: [(8, 8)])], legend: .none)
        let drawing = try plot.drawing()
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 0)).map(\.square) == [false])
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 2)).map(\.square) == [true])
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 4)).map(\.square) == [false])
        #expect(Self.markers(drawing, LinePlot.color(ofSeries: 1)).isEmpty)
    }

    @Test func aDashedReferenceLineTakesItsColour() throws {
        let color = LinePlot.color(ofSeries: 3)
        let plot = LinePlot(xRange: 0...10, yRange: 0...10,
                            series: [.init("nothing", points: []),
                                     .init("level", points: [(0, 5), (10, 5)], color: color, dashed: true, markers: false)],
                            legend: .none)
        let drawing = try plot.drawing()
        let dashed = drawing.marks.compactMap { if case let .line(points, c, _, true, clip) = $0 { (points, c, clip) } else { nil } }
        #expect(dashed.count == 1 && dashed[0].1 == color && dashed[0].2 == drawing.frame)
        #expect(dashed[0].0.map(\.x) == [drawing.frame.x, drawing.frame.right])
    }

    @Test func intervalsDrawErrorBarsAndWidenTheAxis() throws {
        let series = LinePlot.Series("FID", points: [(10, 20), (20, 15), (50, 12)],
                                     intervals: [(18, 23), nil, (9, 14), (0, 1000)])  // the 4th has no point: ignored
        let drawing = try LinePlot(series: [series], legend: .none).drawing()
        let color = LinePlot.color(ofSeries: 0)
        let bars = drawing.marks.compactMap { if case let .line(points, c, width, _, _) = $0, c == color, width == 1.1 { points } else { nil } }
        #expect(bars.count == 2 * 3)  // a bar and two caps per interval
        let vertical = bars.filter { $0[0].x == $0[1].x }
        #expect(vertical.count == 2)
        // The y axis covers 9…23 (the intervals), fitted with a margin rather than snapped to 0…25.
        #expect(drawing.texts == ["10", "20", "30", "40", "50", "10", "15", "20"])  // x ticks, then y ticks
        let bar = vertical[1]
        let frame = drawing.frame
        #expect(bar[0].y < frame.bottom && bar[1].y > frame.y && abs((bar[0].y - bar[1].y) - 5 / 14 / 1.1 * frame.height) < 1e-6)
    }

    /// A forest plot: rows top to bottom in the given order, labels left of the frame, each interval a
    /// horizontal bar with caps at its ends, the value a disc; the reference row in the second colour
    /// with its interval shaded across the frame.
    @Test func intervalPlotRowsBarsAndTheShadedReference() throws {
        let plot = IntervalPlot(title: "FID at 25 steps", xLabel: "FID ↓", rows: [
            .init("SDE-DPM-Solver++(2M)", value: 20, interval: (16, 25)),
            .init("Mix (t_c = 125)", value: 38, interval: (33, 44)),
            .init("no interval", value: 30),
            .init("not placeable", value: .nan, interval: (.nan, 3)),
        ], reference: 0, caption: "a caption")
        let drawing = try plot.drawing(width: 500, height: 300, measure: CairoContext.measuring())
        let frame = drawing.frame
        for text in ["FID at 25 steps", "FID ↓", "SDE-DPM-Solver++(2M)", "Mix (tc = 125)", "no interval", "not placeable", "a caption"] {
            #expect(drawing.texts.contains(text), "no text \(text) in \(drawing.texts)")
        }
        // The axis fits 16…44 with a 5 % margin (not the undrawn interval's 3): x(v) = left + (v − 14.6) / 30.8 × width.
        func x(_ v: Double) -> Double { frame.x + (v - 14.6) / 30.8 * frame.width }
        let rowHeight = frame.height / 4
        let (first, second) = (LinePlot.color(ofSeries: 1), LinePlot.color(ofSeries: 0))
        let discs = drawing.marks.compactMap { if case let .marker(mx, my, false, c) = $0 { (mx, my, c) } else { nil } }
        #expect(discs.count == 3)
        #expect(abs(discs[0].0 - x(20)) < 1e-9 && abs(discs[0].1 - (frame.y + rowHeight / 2)) < 1e-9 && discs[0].2 == first)
        #expect(abs(discs[1].0 - x(38)) < 1e-9 && abs(discs[1].1 - (frame.y + 1.5 * rowHeight)) < 1e-9 && discs[1].2 == second)
        #expect(abs(discs[2].0 - x(30)) < 1e-9 && discs[2].2 == second)
        let bars = drawing.marks.compactMap { if case let .line(points, c, 1.1, _, _) = $0 { (points, c) } else { nil } }
        #expect(bars.count == 6)  // a bar and two caps for each of the two placeable intervals
        let horizontal = bars.filter { $0.0[0].y == $0.0[1].y }
        #expect(horizontal.count == 2 && abs(horizontal[1].0[0].x - x(33)) < 1e-9 && abs(horizontal[1].0[1].x - x(44)) < 1e-9)
        let shaded = drawing.marks.compactMap { if case let .rect(r, fill?, nil, _) = $0, fill == IntervalPlot.band { r } else { nil } }
        #expect(shaded.count == 1 && abs(shaded[0].x - x(16)) < 1e-9 && abs(shaded[0].right - x(25)) < 1e-9)
        #expect(shaded[0].y == frame.y && shaded[0].height == frame.height)
        // Labels end left of the frame, one per row at its middle.
        let labels = drawing.marks.compactMap { if case let .text(t, tx, ty, _, _, .end, _, _) = $0 { (t.plain, tx, ty) } else { nil } }
        #expect(labels.map(\.0) == ["SDE-DPM-Solver++(2M)", "Mix (tc = 125)", "no interval", "not placeable"])
        #expect(labels.allSatisfy { $0.1 < frame.x })
        // The page grows with the rows, and every format renders.
        #expect(plot.pageSize.height == LinePlot.defaultSize.height)
        #expect(IntervalPlot(rows: (0..<40).map { .init("\($0)", value: Double($0)) }).pageSize.height == 150 + 40 * IntervalPlot.rowHeight)
        let image = try Image8.decodePNG(try plot.render(.png), path: "intervals.png")
        #expect(image.width == 960 && image.height == 630)
        let svg = try #require(String(data: try plot.render(.svg), encoding: .utf8))
        #expect(svg.contains("<desc>Rows: SDE-DPM-Solver++(2M) 20.000 [16.000, 25.000]; Mix (t_c = 125) 38.000 [33.000, 44.000]; no interval 30.000;"))
        #expect(try plot.render(.pdf).starts(with: Data("%PDF".utf8)))
    }

    @Test func coincidingSeriesAreNamedInTheCaption() throws {
        let x: [Double] = [10, 25, 50]
        let plot = LinePlot(series: [
            .init("DDPM", x: x, y: [30, 20, 10]), .init("naive DDPM", x: x, y: [30, 20.000001, 10]),
            .init("skipped-step", x: x, y: [30, 20, 10]), .init("DDIM", x: x, y: [31, 20, 10]),
        ], caption: "2000 samples.")
        #expect(plot.coincidingSeries().map(\.series) == [[0, 1, 2]])
        #expect(plot.fullCaption == "2000 samples. DDPM, naive DDPM and skipped-step coincide (largest relative difference 5.0e-8); one line hides the other.")
        let exact = LinePlot(series: [.init("DDPM", x: x, y: [3, 2, 1]), .init("skipped-step", x: x, y: [3, 2, 1])])
        #expect(exact.fullCaption == "DDPM and skipped-step are identical; one line hides the other.")
        let drawing = try plot.drawing()
        #expect(drawing.texts.joined(separator: " ").contains("skipped-step coincide"))
        #expect(drawing.summary.hasSuffix("one line hides the other."))
    }

    @Test func axesFitTheDataInsteadOfWholeDecades() throws {
        let axis = try PlotAxis(scale: .log10, range: nil, values: [22.1, 98], name: "y")
        #expect(axis.lower > Foundation.log10(20) && axis.upper < Foundation.log10(110))
        #expect(axis.ticks.compactMap(\.label) == ["30", "40", "50", "60", "70", "80", "90", "100"])
        let nfe = try PlotAxis(scale: .log10, range: nil, values: [10, 1000], name: "x")
        #expect(nfe.ticks.compactMap(\.label) == ["10", "20", "50", "100", "200", "500", "1000"])
    }

    @Test func ticks() throws {
        func labels(_ scale: LinePlot.Scale, _ range: ClosedRange<Double>?, _ values: [Double] = []) throws -> [String] {
            try PlotAxis(scale: scale, range: range, values: values, name: "x").ticks.compactMap(\.label)
        }
        #expect(try labels(.linear, 0...10) == ["0", "2", "4", "6", "8", "10"])
        #expect(try labels(.linear, nil, [0.3, 9.7]) == ["0", "2", "4", "6", "8", "10"])
        #expect(try labels(.linear, nil, [0.31, 0.52]) == ["0.30", "0.35", "0.40", "0.45", "0.50"])
        #expect(try labels(.linear, nil, [-0.2, 0.9]) == ["−0.2", "0.0", "0.2", "0.4", "0.6", "0.8"])
        #expect(try labels(.linear, nil, [3, 3]) == ["2.7", "2.8", "2.9", "3.0", "3.1", "3.2", "3.3"])
        #expect(try labels(.log10, nil, [3, 2000]) == ["5", "10", "20", "50", "100", "200", "500", "1000", "2000"])
        #expect(try labels(.log10, 1e-20...1e20) == ["10⁻²⁰", "10⁻¹⁵", "10⁻¹⁰", "10⁻⁵", "1", "100000", "10¹⁰", "10¹⁵", "10²⁰"])
        #expect(try labels(.log10, 20...80) == ["20", "30", "40", "50", "60", "70", "80"])
        #expect(try labels(.log10, 1e-5...1e-3) == ["10⁻⁵", "2×10⁻⁵", "5×10⁻⁵", "0.0001", "0.0002", "0.0005", "0.001"])
        #expect(try labels(.log10, 20...25) == ["20", "21", "22", "23", "24", "25"])
        #expect(formatFixed(-0.0004, 3) == "0.000" && formatFixed(-1.25, 1) == "−1.3" && formatFixed(7, 0) == "7")
    }

    @Test func subscriptsAndPlainUnderscores() {
        #expect(PlotText("t_c (t ≥ t_c)").runs == [.init(text: "t", isSubscript: false), .init(text: "c", isSubscript: true),
                                                  .init(text: " (t ≥ t", isSubscript: false), .init(text: "c", isSubscript: true),
                                                  .init(text: ")", isSubscript: false)])
        #expect(PlotText("is_mean oracle_frechet x_ab _x").runs == [.init(text: "is_mean oracle_frechet x_ab _x", isSubscript: false)])
        #expect(PlotText("σ_{data}²").plain == "σdata²" && PlotText("σ_{data}").runs.last == .init(text: "data", isSubscript: true))
    }

    @Test func labeledGridLaysOutRowsColumnsAndLabels() throws {
        let gray = Image8(width: 8, height: 8, channels: 1, pixels: (0..<64).map { UInt8($0) })
        let rgb = Image8(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 7, count: 192))
        let grid = try Image8.labeledGrid(rows: [("a", [gray, gray]), ("bb", [rgb])], scale: 3, columnLabels: ["s0", "s1"])
        #expect(grid.channels == 3)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] {
            let i = 3 * (y * grid.width + x)
            return Array(grid.pixels[i ..< i + 3])
        }
        // The images' corner: the label column and header are as wide and tall as their text.
        let left = grid.width - 2 * 26, top = grid.height - 2 * 26
        #expect(left > 6 && top > 4)
        #expect(pixel(left, top) == [0, 0, 0] && pixel(left + 2, top + 2) == [0, 0, 0] && pixel(left + 3, top) == [1, 1, 1])
        #expect(pixel(left + 26 + 23, top + 23) == [63, 63, 63])
        #expect(pixel(left, top + 26) == [7, 7, 7] && pixel(left + 26, top + 26) == [255, 255, 255])
        #expect(pixel(left - 1, top) == [255, 255, 255] && pixel(left + 24, top) == [255, 255, 255])
        #expect((0..<24).contains { y in (0..<left).contains { pixel($0, top + y)[0] < 128 } })  // the label "a"
        #expect((0..<top).contains { y in (left..<left + 24).contains { pixel($0, y)[0] < 128 } })  // the label "s0"

        let plain = try Image8.labeledGrid(rows: [("", [gray])])
        #expect(plain.channels == 1 && plain.width == 2 + 8 + 2 && plain.height == 2 + 8 + 2 && plain.pixels[2 * 12 + 3] == 1)
        #expect(throws: PlotError.self) { try Image8.labeledGrid(rows: []) }
        #expect(throws: PlotError.self) { try Image8.labeledGrid(rows: [("a", [gray, rgb.resized()])]) }
    }
}

private extension Image8 {
    /// A 4 × 4 image, to mix sizes.
    func resized() -> Image8 { Image8(width: 4, height: 4, channels: channels, pixels: Array(pixels.prefix(16 * channels))) }
}

extension PlotTests {
    @Test func seriesPastThePaletteAreDashedAndLongTitlesStayOnThePage() throws {
        let series = (0..<10).map { LinePlot.Series("s\($0)", points: [(1, Double($0)), (2, Double($0))]) }
        let plot = LinePlot(title: String(repeating: "a long title ", count: 7), series: series)
        #expect((0..<10).map(plot.isDashed) == Array(repeating: false, count: 8) + [true, true])
        let drawing = try plot.drawing()
        let measure = try CairoContext.measuring()
        for case let .text(text, x, _, size, bold, anchor, false, _) in drawing.marks where text.plain.hasPrefix("a long") {
            let width = measure.width(text, size: size, bold: bold)
            #expect(anchor == .middle && x - width / 2 >= PlotStyle.padding - 1e-9 && x + width / 2 <= drawing.width - PlotStyle.padding + 1e-9)
        }
    }
}
