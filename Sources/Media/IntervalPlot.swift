import Foundation

/// One statistic across named rows, each a point with its interval drawn as a horizontal bar (a
/// forest plot), as in "FID at 25 NFE of every sampler, with 95 % intervals": the chart for many
/// settings at one x where a line chart would stack them on one vertical.
///
/// Rows are drawn top to bottom in the order given, each label left of the frame. The `reference`
/// row is drawn in the palette's second colour and its interval shaded across the frame, so the rows
/// whose bars reach into the shaded band are the ones not resolved from it. Values or interval ends
/// that cannot be placed (not finite, ≤ 0 on a log axis) are not drawn. Shares `LinePlot`'s axes,
/// fonts, palette and rendering (`RenderablePlot`).
public struct IntervalPlot: Sendable {
    /// A labelled value, with its interval (say a 95 % bootstrap interval) if it has one.
    public struct Row: Sendable {
        public var name: String
        public var value: Double
        /// nil: the row is a disc without a bar.
        public var interval: (low: Double, high: Double)?

        public init(_ name: String, value: Double, interval: (low: Double, high: Double)? = nil) {
            (self.name, self.value, self.interval) = (name, value, interval)
        }
    }

    public var title: String
    public var xLabel: String
    public var xScale: LinePlot.Scale
    public var rows: [Row]
    /// The row whose interval is shaded (say the best one), or nil.
    public var reference: Int?
    /// Text under the plot.
    public var caption: String

    public init(title: String = "", xLabel: String = "", xScale: LinePlot.Scale = .linear, rows: [Row] = [],
                reference: Int? = nil, caption: String = "") {
        self.title = title
        self.xLabel = xLabel
        self.xScale = xScale
        self.rows = rows
        self.reference = reference
        self.caption = caption
    }

    /// Height of a row, in points.
    static let rowHeight = 18.0
    /// The shading of the reference row's interval.
    static let band = PlotColor(0xDCEBF7)

    /// The page: `LinePlot`'s width, and tall enough for every row at `rowHeight`.
    public var pageSize: (width: Double, height: Double) {
        (LinePlot.defaultSize.width, max(LinePlot.defaultSize.height, 150 + Double(rows.count) * Self.rowHeight))
    }

    /// The plot laid out on a `width` × `height` point page.
    func drawing(width: Double, height: Double, measure: PlotTextMeasure) throws -> PlotDrawing {
        typealias S = PlotStyle
        let (pad, gap, tick) = (S.padding, S.gap, S.tickLength)
        // The axis fits the values and the intervals that are drawn (both ends placeable, in order).
        let ends = rows.flatMap { row in
            [row.value] + (row.interval.flatMap { interval -> [Double]? in
                guard interval.low <= interval.high, PlotAxis.position(interval.low, xScale) != nil,
                      PlotAxis.position(interval.high, xScale) != nil else { return nil }
                return [interval.low, interval.high]
            } ?? [])
        }
        let x = try PlotAxis(scale: xScale, range: nil, values: ends, name: "x")
        let tickHeight = S.lineHeight(S.tickSize), labelHeight = S.lineHeight(S.labelSize)
        let captionHeight = S.lineHeight(S.captionSize)
        let captionLines = caption.isEmpty ? [] : measure.wrap(caption, width: width - 2 * pad, size: S.captionSize)
        let labelWidth = rows.map { measure.width(PlotText($0.name), size: S.tickSize, bold: false) }.max() ?? 0
        let lastXLabel = x.ticks.last(where: { $0.label != nil && $0.position >= x.upper - 1e-9 })?.label ?? ""

        let top = pad + (title.isEmpty ? 0 : S.lineHeight(S.titleSize) + gap)
        let left = pad + labelWidth + gap + tick
        let right = width - pad - measure.width(lastXLabel, size: S.tickSize) / 2
        let captionTop = height - pad - Double(captionLines.count) * captionHeight
        let xLabelBaseline = captionTop - (captionLines.isEmpty ? 0 : gap) - labelHeight * 0.3
        let bottom = xLabelBaseline - (xLabel.isEmpty ? 0 : labelHeight * 0.7 + gap) - tickHeight - tick
        guard right - left >= 40, bottom - top >= 20 else { throw PlotError.tooSmall(width: width, height: height) }
        let frame = PlotDrawing.Rect(x: left, y: top, width: right - left, height: bottom - top)
        let rowHeight = frame.height / Double(max(rows.count, 1))

        func place(_ position: Double) -> Double { left + (position - x.lower) / (x.upper - x.lower) * (right - left) }
        func xPoint(_ value: Double) -> Double? {
            guard let position = PlotAxis.position(value, xScale) else { return nil }
            let at = place(position)
            return at.isFinite ? at : nil
        }
        func rowMiddle(_ index: Int) -> Double { top + (Double(index) + 0.5) * rowHeight }
        let ticks = measure.thinned(x.ticks, size: S.tickSize, gap: gap, place: place)

        var drawing = PlotDrawing(width: width, height: height, frame: frame, title: title, summary: "")
        func add(_ mark: PlotDrawing.Mark) { drawing.marks.append(mark) }
        func text(_ string: String, _ x: Double, _ y: Double, size: Double, anchor: PlotDrawing.Anchor) {
            drawing.addText(string, x, y, size: size, anchor: anchor)
        }
        add(.rect(.init(x: 0, y: 0, width: width, height: height), fill: .white, stroke: nil, lineWidth: 0))
        if let reference, rows.indices.contains(reference), let interval = rows[reference].interval,
           interval.low <= interval.high, let low = xPoint(interval.low), let high = xPoint(interval.high) {
            let (from, to) = (max(low, left), min(high, right))
            if from < to { add(.rect(.init(x: from, y: top, width: to - from, height: frame.height), fill: Self.band, stroke: nil, lineWidth: 0)) }
        }
        for t in ticks {
            let at = place(t.position)
            if t.label != nil { add(.line(points: [(at, top), (at, bottom)], color: .grid, width: 0.8, dashed: false, clip: nil)) }
            add(.line(points: [(at, bottom), (at, bottom + (t.label == nil ? tick / 2 : tick))], color: .black, width: 0.8, dashed: false, clip: nil))
            if let label = t.label { text(label, at, bottom + tick + tickHeight * 0.8, size: S.tickSize, anchor: .middle) }
        }
        add(.rect(frame, fill: nil, stroke: .black, lineWidth: 0.8))
        drawing.addTitle(title, over: left, right, measure: measure)
        text(xLabel, (left + right) / 2, xLabelBaseline, size: S.labelSize, anchor: .middle)

        for (index, row) in rows.enumerated() {
            let middle = rowMiddle(index)
            let color = LinePlot.color(ofSeries: index == reference ? 1 : 0)
            add(.line(points: [(left - tick, middle), (left, middle)], color: .black, width: 0.8, dashed: false, clip: nil))
            text(row.name, left - tick - gap, middle + S.tickSize * 0.35, size: S.tickSize, anchor: .end)
            if let interval = row.interval, interval.low <= interval.high,
               let low = xPoint(interval.low), let high = xPoint(interval.high) {
                add(.line(points: [(low, middle), (high, middle)], color: color, width: 1.1, dashed: false, clip: frame))
                for end in [low, high] {
                    add(.line(points: [(end, middle - 3), (end, middle + 3)], color: color, width: 1.1, dashed: false, clip: frame))
                }
            }
            if let at = xPoint(row.value), frame.contains((at, middle)) {
                add(.marker(x: at, y: middle, square: false, color: color))
            }
        }
        drawing.addCaption(captionLines, top: captionTop)
        let listed = rows.map { row in
            "\(row.name) \(formatFixed(row.value, 3))" + (row.interval.map { " [\(formatFixed($0.low, 3)), \(formatFixed($0.high, 3))]" } ?? "")
        }
        drawing.summary = ([rows.isEmpty ? "" : "Rows: " + listed.joined(separator: "; ") + "."] + (caption.isEmpty ? [] : [caption]))
            .filter { !$0.isEmpty }.joined(separator: " ")
        return drawing
    }
}
