import Foundation

/// A plot laid out as a list of marks in points (1/72 inch) from the top-left: what cairo draws
/// into a PNG, SVG or PDF surface alike, and what tests inspect instead of pixels (public as a type
/// only, for `RenderablePlot`).
public struct PlotDrawing {
    struct Rect: Equatable {
        var x: Double, y: Double, width: Double, height: Double
        var right: Double { x + width }
        var bottom: Double { y + height }
        func contains(_ p: (x: Double, y: Double), slack: Double = 1e-6) -> Bool {
            p.x >= x - slack && p.x <= right + slack && p.y >= y - slack && p.y <= bottom + slack
        }
    }

    enum Anchor { case start, middle, end }

    enum Mark {
        /// A polyline through `points`; clipped to `clip` when given.
        case line(points: [(x: Double, y: Double)], color: PlotColor, width: Double, dashed: Bool, clip: Rect?)
        case rect(Rect, fill: PlotColor?, stroke: PlotColor?, lineWidth: Double)
        /// A disc of radius `markerSize / 2` or a square `markerSize` wide, centred on (x, y).
        case marker(x: Double, y: Double, square: Bool, color: PlotColor)
        /// Text with its baseline at `y`; `vertical` text reads bottom to top, rotated about (x, y).
        case text(PlotText, x: Double, y: Double, size: Double, bold: Bool, anchor: Anchor, vertical: Bool, color: PlotColor)
    }

    var width: Double, height: Double
    var marks: [Mark] = []
    /// The plot frame: the data area.
    var frame: Rect
    /// The legend's area, nil without one.
    var legend: Rect?
    /// The plot's title and a one-paragraph description (series, caption) for the SVG's
    /// `<title>`/`<desc>` and the PDF's metadata.
    var title: String, summary: String

    static let markerSize = 7.0
    static let lineWidth = 1.6

    /// Every text mark's characters.
    var texts: [String] {
        marks.compactMap { if case let .text(text, _, _, _, _, _, _, _) = $0 { text.plain } else { nil } }
    }
}

extension PlotDrawing {
    /// A text mark with its baseline at `y`; nothing for an empty string.
    mutating func addText(_ string: String, _ x: Double, _ y: Double, size: Double, bold: Bool = false,
                          anchor: Anchor, vertical: Bool = false, color: PlotColor = .black) {
        guard !string.isEmpty else { return }
        marks.append(.text(PlotText(string), x: x, y: y, size: size, bold: bold, anchor: anchor, vertical: vertical, color: color))
    }

    /// The title centred over the frame (`left`…`right`), moved left or right as far as it must to
    /// stay on the page.
    mutating func addTitle(_ title: String, over left: Double, _ right: Double, measure: PlotTextMeasure) {
        typealias S = PlotStyle
        let titleWidth = measure.width(PlotText(title), size: S.titleSize, bold: true)
        let middle = min(max((left + right) / 2, S.padding + titleWidth / 2), width - S.padding - titleWidth / 2)
        addText(title, middle, S.padding + S.titleSize, size: S.titleSize, bold: true, anchor: .middle)
    }

    /// The caption's lines under the plot, the first one's top at `top`.
    mutating func addCaption(_ lines: [String], top: Double) {
        typealias S = PlotStyle
        for (row, line) in lines.enumerated() {
            addText(line, S.padding, top + Double(row) * S.lineHeight(S.captionSize) + S.captionSize, size: S.captionSize,
                    anchor: .start, color: .caption)
        }
    }
}

/// Measures text as cairo will draw it.
protocol PlotTextMeasure {
    func width(_ text: PlotText, size: Double, bold: Bool) -> Double
}

extension PlotTextMeasure {
    func width(_ text: String, size: Double, bold: Bool = false) -> Double { width(PlotText(text), size: size, bold: bold) }

    /// `text` broken at spaces into lines no wider than `width` (a longer word stays whole).
    func wrap(_ text: String, width: Double, size: Double) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if !line.isEmpty && self.width(candidate, size: size) > width {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// `ticks` with the labels that would overlap their left neighbour's (at `gap` twice) made
    /// minor, `place` giving a tick position's x in points.
    func thinned(_ ticks: [PlotAxis.Tick], size: Double, gap: Double, place: (Double) -> Double) -> [PlotAxis.Tick] {
        var ticks = ticks
        var lastEnd = -Double.infinity
        for i in ticks.indices {
            guard let label = ticks[i].label else { continue }
            let half = width(label, size: size) / 2, at = place(ticks[i].position)
            if at - half < lastEnd + 2 * gap { ticks[i].label = nil } else { lastEnd = at + half }
        }
        return ticks
    }
}

/// Font sizes and spacing of a plot, in points.
enum PlotStyle {
    static let tickSize = 10.5, labelSize = 12.0, titleSize = 13.0, legendSize = 11.0, captionSize = 10.0
    static let padding = 10.0, gap = 5.0, tickLength = 5.0, swatch = 26.0
    static func lineHeight(_ size: Double) -> Double { (size * 1.3).rounded() }
}

extension LinePlot {
    /// The plot laid out on a `width` × `height` point page.
    func drawing(width: Double, height: Double, measure: PlotTextMeasure) throws -> PlotDrawing {
        typealias S = PlotStyle
        let (pad, gap, tick) = (S.padding, S.gap, S.tickLength)
        let placeable = series.flatMap(\.points)
            .filter { PlotAxis.position($0.x, xScale) != nil && PlotAxis.position($0.y, yScale) != nil }
        let intervalEnds = series.flatMap { s in
            s.points.indices.compactMap { i -> [Double]? in
                guard let interval = s.interval(i), PlotAxis.position(s.points[i].x, xScale) != nil,
                      PlotAxis.position(s.points[i].y, yScale) != nil else { return nil }
                return [interval.low, interval.high]
            }.joined()
        }
        let x = try PlotAxis(scale: xScale, range: xRange, values: placeable.map(\.x), name: "x")
        var y = try PlotAxis(scale: yScale, range: yRange, values: placeable.map(\.y) + intervalEnds, name: "y")

        let tickHeight = S.lineHeight(S.tickSize), labelHeight = S.lineHeight(S.labelSize)
        let legendHeight = S.lineHeight(S.legendSize), captionHeight = S.lineHeight(S.captionSize)
        let showsMarkers = series.map { s in
            s.markers && s.points.count { PlotAxis.position($0.x, xScale) != nil && PlotAxis.position($0.y, yScale) != nil } <= Self.markerLimit
        }
        var squares: [Bool] = []
        var shown = 0
        for show in showsMarkers { squares.append(shown % 2 == 1); if show { shown += 1 } }

        let yTickWidth = y.ticks.compactMap(\.label).map { measure.width($0, size: S.tickSize) }.max() ?? 0
        let legendEntries = legend == .none ? [] : series.indices.map { i in
            (index: i, width: S.swatch + gap + measure.width(PlotText(series[i].name), size: S.legendSize, bold: false))
        }
        let legendWidth = (legendEntries.map(\.width).max() ?? 0) + gap
        let caption = fullCaption
        let captionLines = caption.isEmpty ? [] : measure.wrap(caption, width: width - 2 * pad, size: S.captionSize)
        var legendRows: [[(index: Int, width: Double)]] = []
        if legend == .below {
            for entry in legendEntries {
                let used = legendRows.last.map { $0.reduce(0) { $0 + $1.width + 3 * gap } } ?? .infinity
                if used + entry.width > width - 2 * pad { legendRows.append([entry]) } else { legendRows[legendRows.count - 1].append(entry) }
            }
        }
        let lastXLabel = x.ticks.last(where: { $0.label != nil && $0.position >= x.upper - 1e-9 })?.label ?? ""

        let top = pad + (title.isEmpty ? 0 : S.lineHeight(S.titleSize) + gap) + tickHeight / 2
        let left = pad + (yLabel.isEmpty ? 0 : labelHeight + gap) + yTickWidth + gap + tick
        let right = width - pad - (legend == .right && !legendEntries.isEmpty
                                   ? legendWidth + 3 * gap : measure.width(lastXLabel, size: S.tickSize) / 2)
        let captionTop = height - pad - Double(captionLines.count) * captionHeight
        let legendTop = captionTop - (captionLines.isEmpty ? 0 : gap) - Double(legendRows.count) * legendHeight
        let xLabelBaseline = legendTop - (legendRows.isEmpty ? 0 : gap) - labelHeight * 0.3
        let bottom = xLabelBaseline - (xLabel.isEmpty ? 0 : labelHeight * 0.7 + gap) - tickHeight - tick
        guard right - left >= 40, bottom - top >= 40 else { throw PlotError.tooSmall(width: width, height: height) }
        let frame = PlotDrawing.Rect(x: left, y: top, width: right - left, height: bottom - top)

        func xPoint(_ position: Double) -> Double { left + (position - x.lower) / (x.upper - x.lower) * (right - left) }
        func yPoint(_ position: Double) -> Double { bottom - (position - y.lower) / (y.upper - y.lower) * (bottom - top) }
        func point(_ p: (x: Double, y: Double)) -> (x: Double, y: Double)? {
            guard let px = PlotAxis.position(p.x, xScale), let py = PlotAxis.position(p.y, yScale) else { return nil }
            let q = (x: xPoint(px), y: yPoint(py))
            return q.x.isFinite && q.y.isFinite ? q : nil
        }

        // Labels that would overlap their neighbour become minor ticks.
        let xTicks = measure.thinned(x.ticks, size: S.tickSize, gap: gap, place: xPoint)
        var lastY = Double.infinity
        for i in y.ticks.indices {
            guard y.ticks[i].label != nil else { continue }
            let at = yPoint(y.ticks[i].position)
            if at > lastY - tickHeight { y.ticks[i].label = nil } else { lastY = at }
        }

        var drawing = PlotDrawing(width: width, height: height, frame: frame, title: title, summary: "")
        func add(_ mark: PlotDrawing.Mark) { drawing.marks.append(mark) }
        func text(_ string: String, _ x: Double, _ y: Double, size: Double, anchor: PlotDrawing.Anchor, vertical: Bool = false) {
            drawing.addText(string, x, y, size: size, anchor: anchor, vertical: vertical)
        }

        add(.rect(.init(x: 0, y: 0, width: width, height: height), fill: .white, stroke: nil, lineWidth: 0))
        for t in xTicks where t.label != nil {
            add(.line(points: [(xPoint(t.position), top), (xPoint(t.position), bottom)], color: .grid, width: 0.8, dashed: false, clip: nil))
        }
        for t in y.ticks where t.label != nil {
            add(.line(points: [(left, yPoint(t.position)), (right, yPoint(t.position))], color: .grid, width: 0.8, dashed: false, clip: nil))
        }
        for t in xTicks {
            let at = xPoint(t.position), length = t.label == nil ? tick / 2 : tick
            add(.line(points: [(at, bottom), (at, bottom + length)], color: .black, width: 0.8, dashed: false, clip: nil))
            if let label = t.label { text(label, at, bottom + tick + tickHeight * 0.8, size: S.tickSize, anchor: .middle) }
        }
        for t in y.ticks {
            let at = yPoint(t.position), length = t.label == nil ? tick / 2 : tick
            add(.line(points: [(left - length, at), (left, at)], color: .black, width: 0.8, dashed: false, clip: nil))
            if let label = t.label { text(label, left - tick - gap, at + S.tickSize * 0.35, size: S.tickSize, anchor: .end) }
        }
        add(.rect(frame, fill: nil, stroke: .black, lineWidth: 0.8))
        drawing.addTitle(title, over: left, right, measure: measure)
        text(xLabel, (left + right) / 2, xLabelBaseline, size: S.labelSize, anchor: .middle)
        text(yLabel, pad + S.labelSize, (top + bottom) / 2, size: S.labelSize, anchor: .middle, vertical: true)

        for (index, s) in series.enumerated() {
            let color = color(of: index)
            var runs: [[(x: Double, y: Double)]] = [[]]
            var placed: [(index: Int, at: (x: Double, y: Double))] = []
            for (i, p) in s.points.enumerated() {
                if let q = point(p) {
                    runs[runs.count - 1].append(q)
                    placed.append((i, q))
                } else if !runs[runs.count - 1].isEmpty {
                    runs.append([])
                }
            }
            for run in runs where run.count >= 2 {
                add(.line(points: run, color: color, width: PlotDrawing.lineWidth, dashed: isDashed(index), clip: frame))
            }
            for (i, q) in placed {
                guard let interval = s.interval(i), interval.low <= interval.high,
                      let low = PlotAxis.position(interval.low, yScale), let high = PlotAxis.position(interval.high, yScale) else { continue }
                let (y0, y1) = (yPoint(low), yPoint(high))
                guard y0.isFinite && y1.isFinite else { continue }
                add(.line(points: [(q.x, y0), (q.x, y1)], color: color, width: 1.1, dashed: false, clip: frame))
                for end in [y0, y1] {
                    add(.line(points: [(q.x - 3, end), (q.x + 3, end)], color: color, width: 1.1, dashed: false, clip: frame))
                }
            }
            if showsMarkers[index] {
                for (_, q) in placed where frame.contains(q) { add(.marker(x: q.x, y: q.y, square: squares[index], color: color)) }
            }
        }

        func legendEntry(_ index: Int, x: Double, middle: Double) {
            let color = color(of: index)
            add(.line(points: [(x, middle), (x + S.swatch, middle)], color: color, width: PlotDrawing.lineWidth,
                      dashed: isDashed(index), clip: nil))
            if showsMarkers[index] { add(.marker(x: x + S.swatch / 2, y: middle, square: squares[index], color: color)) }
            text(series[index].name, x + S.swatch + gap, middle + S.legendSize * 0.35, size: S.legendSize, anchor: .start)
        }
        if legend == .right && !legendEntries.isEmpty {
            let x0 = right + 3 * gap
            for (row, entry) in legendEntries.enumerated() {
                legendEntry(entry.index, x: x0, middle: top + (Double(row) + 0.5) * legendHeight)
            }
            drawing.legend = .init(x: x0, y: top, width: legendWidth, height: Double(legendEntries.count) * legendHeight)
        } else if !legendRows.isEmpty {
            for (row, entries) in legendRows.enumerated() {
                var x0 = pad
                for entry in entries {
                    legendEntry(entry.index, x: x0, middle: legendTop + (Double(row) + 0.5) * legendHeight)
                    x0 += entry.width + 3 * gap
                }
            }
            drawing.legend = .init(x: pad, y: legendTop, width: width - 2 * pad, height: Double(legendRows.count) * legendHeight)
        }
        drawing.addCaption(captionLines, top: captionTop)
        drawing.summary = ([series.isEmpty ? "" : "Series: " + series.map(\.name).joined(separator: "; ") + "."]
                           + (caption.isEmpty ? [] : [caption])).filter { !$0.isEmpty }.joined(separator: " ")
        return drawing
    }
}
