import Foundation

/// An sRGB colour for plots.
public struct PlotColor: Equatable, Hashable, Sendable {
    public var red: UInt8, green: UInt8, blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        (self.red, self.green, self.blue) = (red, green, blue)
    }

    init(_ rgb: UInt32) {
        self.init(red: UInt8(rgb >> 16 & 0xFF), green: UInt8(rgb >> 8 & 0xFF), blue: UInt8(rgb & 0xFF))
    }

    /// `#RRGGBB`.
    public var hex: String {
        "#" + [red, green, blue].map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined().uppercased()
    }

    static let black = PlotColor(0x000000), white = PlotColor(0xFFFFFF)
    static let grid = PlotColor(0xE0E0E0), legendBorder = PlotColor(0xA0A0A0)
}

/// A line chart of one or more series, as in "FID against NFE per sampler": drawn as a standalone
/// SVG document (`svg(width:height:)`) or an RGB image (`rasterized(width:height:)`) with the same
/// layout. Rendering is deterministic: the same plot always gives the same bytes.
///
/// Each series is a polyline through its points in the order given, solid or dashed, with a marker
/// on each point unless turned off (circles and squares alternate over the series that have
/// markers), in its own colour or else the `palette` colour of its index.
/// Points that cannot be placed — NaN, infinite or beyond ±10³⁰⁰, or ≤ 0 on a log axis — are
/// skipped and break the line there. Lines are clipped to the plot frame; markers outside it are
/// not drawn. A plot without drawable points draws its axes on the default range (0…1 linear,
/// 1…10 log).
public struct LinePlot: Sendable {
    /// How an axis maps values to positions.
    public enum Scale: Sendable {
        /// Ticks at 1, 2 or 5 × 10ᵏ steps.
        case linear
        /// Labelled ticks at each decade (every n-th beyond 8 decades); across at most two decades
        /// also at 2 and 5 × 10ᵏ; unlabelled minor ticks at the other multiples up to 8 decades.
        case log10
    }

    /// A named list of points, drawn as a line with a marker on each point.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// nil: the palette colour of the series' index.
        public var color: PlotColor?
        /// A dashed line (`LinePlot.dash`), e.g. for a reference level.
        public var dashed = false
        public var markers = true
        /// An error bar per point (parallel to `points`; nil or an empty list: none), drawn as a
        /// vertical bar with caps from its low to its high value.
        public var intervals: [ClosedRange<Double>?] = []

        public init(_ name: String, points: [(x: Double, y: Double)], color: PlotColor? = nil,
                    dashed: Bool = false, markers: Bool = true, intervals: [ClosedRange<Double>?] = []) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
            self.markers = markers
            self.intervals = intervals
        }

        /// Pairs `x[i]` with `y[i]`; the arrays must have the same length.
        public init(_ name: String, x: [Double], y: [Double]) {
            precondition(x.count == y.count, "LinePlot.Series \(name): \(x.count) x values but \(y.count) y values")
            self.init(name, points: zip(x, y).map { (x: $0, y: $1) })
        }
    }

    /// Where the legend goes, inside the plot frame.
    public enum LegendPosition: Sendable {
        case topRight, topLeft, bottomRight, bottomLeft, none
    }

    /// The Okabe–Ito colour-blind-safe palette, in the order series take it (cycling after 8).
    public static let palette: [PlotColor] = [
        0x0072B2, 0xD55E00, 0x009E73, 0xE69F00,  // blue, vermillion, bluish green, orange
        0xCC79A7, 0x56B4E9, 0x000000, 0xF0E442,  // reddish purple, sky blue, black, yellow
    ].map(PlotColor.init)

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: Scale
    public var yScale: Scale
    /// The x range shown; `nil` fits the data, widened to whole ticks (linear) or decades (log).
    /// An explicit range must be increasing and finite, and positive on a log axis.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var series: [Series]
    public var legend: LegendPosition

    public init(title: String = "", xLabel: String = "", yLabel: String = "",
                xScale: Scale = .linear, yScale: Scale = .linear,
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                series: [Series] = [], legend: LegendPosition = .topRight) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.xRange = xRange
        self.yRange = yRange
        self.series = series
        self.legend = legend
    }

    /// The palette colour of series `index`.
    public static func color(ofSeries index: Int) -> PlotColor {
        palette[index % palette.count]
    }

    /// The colour series `index` is drawn in.
    func color(of index: Int) -> PlotColor { series[index].color ?? Self.color(ofSeries: index) }

    /// Whether series `index` marks its points with squares rather than circles: every other
    /// series among those with markers, so a series without them (a reference level) does not
    /// leave two neighbours with the same shape.
    func squareMarkers(_ index: Int) -> Bool {
        series[..<index].lazy.filter(\.markers).count % 2 == 1
    }

    /// The on and off lengths of a dashed line, in pixels.
    static let dash = (on: 6, off: 4)
}

// MARK: - Axes

/// One axis, in axis units: the value itself on a linear axis, log₁₀ of it on a log axis.
struct PlotAxis {
    struct Tick {
        var position: Double
        /// `nil` for minor (unlabelled) ticks.
        var label: String?
    }

    var scale: LinePlot.Scale
    var lower: Double
    var upper: Double
    var ticks: [Tick]

    /// `value` in axis units, or `nil` where it cannot be placed: not finite, beyond ±10³⁰⁰ (so
    /// spans stay finite), or ≤ 0 on a log axis.
    static func position(_ value: Double, _ scale: LinePlot.Scale) -> Double? {
        guard abs(value) <= 1e300 else { return nil }
        switch scale {
        case .linear: return value
        case .log10: return value > 0 ? Foundation.log10(value) : nil
        }
    }

    /// An axis showing `range`, or else the placeable `values` (or a default range when there are none).
    init(scale: LinePlot.Scale, range: ClosedRange<Double>?, values: [Double], name: String) {
        if let range {
            precondition(range.lowerBound < range.upperBound && max(abs(range.lowerBound), abs(range.upperBound)) <= 1e300,
                         "LinePlot: the \(name) range \(range) must be increasing, within ±1e300")
            precondition(scale == .linear || range.lowerBound > 0,
                         "LinePlot: the log \(name) range \(range) must be positive")
        }
        let positions = values.compactMap { PlotAxis.position($0, scale) }
        let fitted: ClosedRange<Double>?
        if let low = positions.min(), let high = positions.max() { fitted = low...high } else { fitted = nil }
        self = scale == .linear ? PlotAxis(linear: range, fitting: fitted) : PlotAxis(log: range, fitting: fitted)
    }

    private init(linear range: ClosedRange<Double>?, fitting data: ClosedRange<Double>?) {
        scale = .linear
        var (lower, upper) = range.map { ($0.lowerBound, $0.upperBound) } ?? (data?.lowerBound ?? 0, data?.upperBound ?? 1)
        if lower == upper {  // a single value: ±10 % around it (±1 around 0)
            let margin = lower == 0 ? 1 : abs(lower) / 10
            (lower, upper) = (lower - margin, upper + margin)
        }
        let (step, exponent) = PlotAxis.niceStep((upper - lower) / 6)
        if range == nil {  // widen to whole steps, keeping that step
            lower = (lower / step + 1e-9).rounded(.down) * step
            upper = (upper / step - 1e-9).rounded(.up) * step
        }
        (self.lower, self.upper) = (lower, upper)
        let first = Int((lower / step - 1e-9).rounded(.up)), last = Int((upper / step + 1e-9).rounded(.down))
        ticks = (first...max(first, last)).map {
            Tick(position: Double($0) * step, label: formatFixed(Double($0) * step, max(0, -exponent)))
        }
    }

    private init(log range: ClosedRange<Double>?, fitting data: ClosedRange<Double>?) {
        scale = .log10
        if let range {
            (lower, upper) = (Foundation.log10(range.lowerBound), Foundation.log10(range.upperBound))
        } else if let data {  // whole decades
            (lower, upper) = ((data.lowerBound + 1e-9).rounded(.down), (data.upperBound - 1e-9).rounded(.up))
            if upper <= lower { upper = lower + 1 }
        } else {
            (lower, upper) = (0, 1)
        }
        let decades = upper - lower
        let labelEvery = max(1, Int((decades / 8 - 1e-9).rounded(.up)))  // at most about 9 decade labels
        ticks = []
        for decade in Int(lower.rounded(.down))...Int(upper.rounded(.up)) {
            for mantissa in 1...(decades <= 8 + 1e-9 ? 9 : 1) {
                let position = Foundation.log10(Double(mantissa)) + Double(decade)
                guard position >= lower - 1e-9 && position <= upper + 1e-9 else { continue }
                let labelled = mantissa == 1 ? decade % labelEvery == 0
                                             : decades <= 2 + 1e-9 && (mantissa == 2 || mantissa == 5)
                ticks.append(Tick(position: position, label: labelled ? PlotAxis.logLabel(mantissa, decade) : nil))
            }
        }
        if ticks.filter({ $0.label != nil }).count < 3 {  // about a decade or less: label every tick
            ticks = ticks.map { tick in
                let decade = Int((tick.position + 1e-9).rounded(.down))
                let mantissa = Int(Foundation.pow(10, tick.position - Double(decade)).rounded())
                return Tick(position: tick.position, label: PlotAxis.logLabel(mantissa, decade))
            }
        }
    }

    /// The smallest step of 1, 2 or 5 × 10ᵏ that is at least `raw`, with its k.
    static func niceStep(_ raw: Double) -> (step: Double, exponent: Int) {
        var exponent = Int(Foundation.log10(raw).rounded(.down))
        let magnitude = Foundation.pow(10, Double(exponent))
        for mantissa in [1.0, 2, 5] where mantissa * magnitude >= raw * (1 - 1e-9) {
            return (mantissa * magnitude, exponent)
        }
        exponent += 1
        return (Foundation.pow(10, Double(exponent)), exponent)
    }

    /// m × 10ᵏ as a plain number where that is short (10⁻⁴ … 10⁶), else as "me±k".
    static func logLabel(_ mantissa: Int, _ exponent: Int) -> String {
        switch exponent {
        case 0...6: "\(mantissa)" + String(repeating: "0", count: exponent)
        case -4 ..< 0: formatFixed(Double(mantissa) * Foundation.pow(10, Double(exponent)), -exponent)
        default: "\(mantissa)e\(exponent)"
        }
    }
}

/// `value` with exactly `decimals` digits after the point, rounded half away from zero, without
/// locale or exponent ("-0" prints as "0"); values too large for that fall back to `description`.
func formatFixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
    let scaled = (abs(value) * Foundation.pow(10, Double(decimals))).rounded()
    guard scaled < 1e15 else { return value.description }
    var digits = String(Int64(scaled))
    if decimals > 0 {
        digits = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
    }
    return (value < 0 && scaled != 0 ? "-" : "") + digits
}

// MARK: - Layout

/// Where everything goes, in pixels from the top-left, for a `width` × `height` drawing whose
/// text is `charWidth` per character and `lineHeight` per line. SVG and raster share it.
struct PlotLayout {
    var width: Int, height: Int
    var charWidth: Int, lineHeight: Int
    /// The plot frame; `left`/`right` are the x of its vertical sides, `top`/`bottom` the y of its
    /// horizontal sides. Axis lower bounds map to `left` and `bottom`, upper bounds to `right` and `top`.
    var left: Int, top: Int, right: Int, bottom: Int
    var x: PlotAxis, y: PlotAxis
    /// The legend box (origin, size), or `nil` for none.
    var legend: (x: Int, y: Int, width: Int, height: Int)?

    static let padding = 10, gap = 4, tickLength = 5

    init(_ plot: LinePlot, width: Int, height: Int, charWidth: Int, lineHeight: Int) {
        (self.width, self.height, self.charWidth, self.lineHeight) = (width, height, charWidth, lineHeight)
        // Error bars widen the data range like points at their ends.
        let barEnds = plot.series.flatMap { series in
            zip(series.points, series.intervals).flatMap { p, i in i.map { [(x: p.x, y: $0.lowerBound), (x: p.x, y: $0.upperBound)] } ?? [] }
        }
        let points = (plot.series.flatMap(\.points) + barEnds)
            .filter { PlotAxis.position($0.x, plot.xScale) != nil && PlotAxis.position($0.y, plot.yScale) != nil }
        let x = PlotAxis(scale: plot.xScale, range: plot.xRange, values: points.map(\.x), name: "x")
        let y = PlotAxis(scale: plot.yScale, range: plot.yRange, values: points.map(\.y), name: "y")
        (self.x, self.y) = (x, y)
        let (pad, gap, tick) = (Self.padding, Self.gap, Self.tickLength)
        func textWidth(_ text: String) -> Int { BitmapFont.glyphs(text).count * charWidth }
        let yLabelWidth = y.ticks.compactMap(\.label).map(textWidth).max() ?? 0
        let lastXLabel = x.ticks.last(where: { $0.label != nil && $0.position >= x.upper - 1e-9 })?.label ?? ""

        left = pad + (plot.yLabel.isEmpty ? 0 : lineHeight + gap) + yLabelWidth + gap + tick
        top = pad + (plot.title.isEmpty ? 0 : lineHeight + gap) + lineHeight / 2
        right = width - pad - textWidth(lastXLabel) / 2
        bottom = height - pad - (plot.xLabel.isEmpty ? 0 : lineHeight + gap) - lineHeight - gap - tick
        precondition(right - left >= 20 && bottom - top >= 20, "LinePlot: \(width)×\(height) leaves no room for the plot")

        if plot.legend != .none && !plot.series.isEmpty {
            let boxWidth = 2 * gap + 3 * charWidth + gap + (plot.series.map { textWidth($0.name) }.max() ?? 0) + gap
            let boxHeight = plot.series.count * lineHeight + 2 * gap
            let inset = 2 * gap
            let boxX = [.topLeft, .bottomLeft].contains(plot.legend) ? left + inset : right - inset - boxWidth
            let boxY = [.topLeft, .topRight].contains(plot.legend) ? top + inset : bottom - inset - boxHeight
            legend = (boxX, boxY, boxWidth, boxHeight)
        }
    }

    /// The horizontal pixel position of axis position `position`.
    func xPixel(_ position: Double) -> Double {
        Double(left) + (position - x.lower) / (x.upper - x.lower) * Double(right - left)
    }

    func yPixel(_ position: Double) -> Double {
        Double(bottom) - (position - y.lower) / (y.upper - y.lower) * Double(bottom - top)
    }

    /// A data point in pixels, or `nil` where it cannot be placed (including points so far outside
    /// the axis ranges that their pixel position overflows).
    func pixel(_ point: (x: Double, y: Double)) -> (x: Double, y: Double)? {
        guard let px = PlotAxis.position(point.x, x.scale), let py = PlotAxis.position(point.y, y.scale) else { return nil }
        let p = (x: xPixel(px), y: yPixel(py))
        return p.x.isFinite && p.y.isFinite ? p : nil
    }

    func insideFrame(_ p: (x: Double, y: Double)) -> Bool {
        (Double(left) - 1e-6 ... Double(right) + 1e-6).contains(p.x)
            && (Double(top) - 1e-6 ... Double(bottom) + 1e-6).contains(p.y)
    }

    /// Each series' points in pixels, split into runs at points that cannot be placed.
    /// Each error bar of a series in pixels: x, and the pixel rows of its two ends (bars that
    /// cannot be placed are left out).
    func errorBars(of series: LinePlot.Series) -> [(x: Double, y0: Double, y1: Double)] {
        zip(series.points, series.intervals).compactMap { point, interval in
            guard let interval, let low = pixel((point.x, interval.lowerBound)), let high = pixel((point.x, interval.upperBound))
            else { return nil }
            return (low.x, low.y, high.y)
        }
    }

    func runs(of series: LinePlot.Series) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = [[]]
        for point in series.points {
            if let p = pixel(point) {
                runs[runs.count - 1].append(p)
            } else if !runs[runs.count - 1].isEmpty {
                runs.append([])
            }
        }
        return runs.filter { !$0.isEmpty }
    }
}
