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
    static let grid = PlotColor(0xE4E4E4), caption = PlotColor(0x404040)
}

/// The file formats a plot is written in, all from the same drawing.
public enum PlotFormat: String, CaseIterable, Sendable {
    case png, svg, pdf

    /// The format a file name's extension names (`.png`, `.svg`, `.pdf`, any case), or `nil`.
    public init?(path: String) {
        self.init(rawValue: (path as NSString).pathExtension.lowercased())
    }
}

/// A line chart of one or more series, as in "FID against NFE per sampler", drawn through cairo
/// (`render(_:width:height:)`: PNG, SVG or PDF of one drawing, text in fontconfig's sans-serif face).
///
/// Each series is a line through its points in the order given, solid or dashed, in its own colour
/// or else the `palette` colour of its index (dashed from the ninth series on, where the palette repeats). Points carry markers only where a series has few of
/// them (`markerLimit`; circles and squares alternate over the series that show markers), and a
/// vertical error bar where the series gives the point an interval. Points that cannot be placed —
/// NaN, infinite or beyond ±10³⁰⁰, or ≤ 0 on a log axis — are skipped and break the line there.
/// Lines and bars are clipped to the plot frame. The legend sits outside the frame; series that
/// coincide (the same x values, y values equal to `coincidenceTolerance` relative) are named in
/// the caption under the plot, since one hides the other. Text may hold any Unicode the font has
/// (≥, η, ε); a single letter after `_` following a single letter (`t_c`), or `_{…}`, is set as a
/// subscript.
public struct LinePlot: Sendable {
    /// How an axis maps values to positions.
    public enum Scale: Sendable {
        /// Ticks at 1, 2 or 5 × 10ᵏ steps.
        case linear
        /// Ticks at decades, at 1, 2 and 5 × 10ᵏ, or at every multiple, whichever labels at least
        /// four positions in the range; unlabelled minor ticks at the other multiples up to 8 decades.
        case log10
    }

    /// A named list of points, drawn as a line, optionally with an interval (say a 95 % confidence
    /// interval) around each point drawn as an error bar.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// `intervals[i]` is point `i`'s interval, `nil` for none; an empty array (the default)
        /// gives no point an interval, and entries beyond `points` are ignored. An interval that
        /// cannot be placed (not finite, ≤ 0 on a log axis) is not drawn.
        public var intervals: [(low: Double, high: Double)?]
        /// nil: the palette colour of the series' index.
        public var color: PlotColor?
        /// A dashed line (`LinePlot.dash`), e.g. for a reference level.
        public var dashed = false
        /// Whether points may carry markers: they do when the series has at most `markerLimit`
        /// drawable points.
        public var markers = true

        public init(_ name: String, points: [(x: Double, y: Double)], intervals: [(low: Double, high: Double)?] = [],
                    color: PlotColor? = nil, dashed: Bool = false, markers: Bool = true) {
            self.name = name
            self.points = points
            self.intervals = intervals
            self.color = color
            self.dashed = dashed
            self.markers = markers
        }

        /// Pairs `x[i]` with `y[i]`; values without a partner are dropped.
        public init(_ name: String, x: [Double], y: [Double]) {
            self.init(name, points: zip(x, y).map { (x: $0, y: $1) })
        }

        /// Point `index`'s interval, if it has one.
        func interval(_ index: Int) -> (low: Double, high: Double)? {
            index < intervals.count ? intervals[index] : nil
        }
    }

    /// Where the legend goes: right of the plot frame, under it, or nowhere.
    public enum LegendPosition: Sendable {
        case right, below, none
    }

    /// The Okabe–Ito colour-blind-safe palette, in the order series take it (cycling after 8).
    public static let palette: [PlotColor] = [
        0x0072B2, 0xD55E00, 0x009E73, 0xE69F00,  // blue, vermillion, bluish green, orange
        0xCC79A7, 0x56B4E9, 0x000000, 0xF0E442,  // reddish purple, sky blue, black, yellow
    ].map(PlotColor.init)

    /// A series with more drawable points than this is drawn as a bare line.
    public static let markerLimit = 30

    /// The largest relative difference at which two series count as coinciding: rounding noise
    /// (DDPM and skipped-step at stride 1 differ by about 10⁻⁷), not two results that happen to be close.
    public static let coincidenceTolerance = 1e-6

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale: Scale
    public var yScale: Scale
    /// The x range shown; `nil` fits the data with a small margin. An explicit range must be
    /// increasing and finite, and positive on a log axis.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var series: [Series]
    public var legend: LegendPosition
    /// Text under the plot; the note on coinciding series follows it.
    public var caption: String

    public init(title: String = "", xLabel: String = "", yLabel: String = "",
                xScale: Scale = .linear, yScale: Scale = .linear,
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                series: [Series] = [], legend: LegendPosition = .right, caption: String = "") {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.xRange = xRange
        self.yRange = yRange
        self.series = series
        self.legend = legend
        self.caption = caption
    }

    /// The palette colour of series `index`.
    public static func color(ofSeries index: Int) -> PlotColor {
        palette[index % palette.count]
    }

    /// The colour series `index` is drawn in.
    func color(of index: Int) -> PlotColor { series[index].color ?? Self.color(ofSeries: index) }

    /// Whether series `index` is drawn dashed: when it asks to be, or when it takes its colour
    /// from the palette's second round or later, which tells it apart from the series whose colour it repeats.
    func isDashed(_ index: Int) -> Bool {
        series[index].dashed || (series[index].color == nil && index >= Self.palette.count)
    }

    /// The on and off lengths of a dashed line, in points.
    static let dash = (on: 6.0, off: 4.0)

    /// Groups (of two or more series indices, in order) whose series coincide: the same x values in
    /// the same order, at least one point, and every y equal to `coincidenceTolerance` relative.
    /// Each group comes with its largest relative difference.
    public func coincidingSeries() -> [(series: [Int], largestDifference: Double)] {
        var grouped = Set<Int>()
        var groups: [(series: [Int], largestDifference: Double)] = []
        for i in series.indices where !grouped.contains(i) && !series[i].points.isEmpty {
            var members = [i]
            var largest = 0.0
            for j in series.indices where j > i && !grouped.contains(j) {
                guard let difference = Self.relativeDifference(series[i].points, series[j].points),
                      difference <= Self.coincidenceTolerance else { continue }
                members.append(j)
                largest = max(largest, difference)
            }
            if members.count > 1 {
                grouped.formUnion(members)
                groups.append((members, largest))
            }
        }
        return groups
    }

    /// The largest relative y difference of two point lists with the same finite x values, or nil.
    static func relativeDifference(_ a: [(x: Double, y: Double)], _ b: [(x: Double, y: Double)]) -> Double? {
        guard a.count == b.count else { return nil }
        var largest = 0.0
        for (p, q) in zip(a, b) {
            guard p.x == q.x, p.x.isFinite, p.y.isFinite, q.y.isFinite else { return nil }
            let scale = max(abs(p.y), abs(q.y))
            largest = max(largest, scale == 0 ? 0 : abs(p.y - q.y) / scale)
        }
        return largest
    }

    /// `caption` followed by a sentence per group of coinciding series.
    public var fullCaption: String {
        var sentences = caption.isEmpty ? [] : [caption]
        for group in coincidingSeries() {
            let names = group.series.map { series[$0].name }
            let list = names.count == 2 ? "\(names[0]) and \(names[1])"
                : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
            let how = group.largestDifference == 0 ? "are identical"
                : "coincide (largest relative difference \(scientific(group.largestDifference)))"
            sentences.append("\(list) \(how); one line hides the other.")
        }
        return sentences.joined(separator: " ")
    }
}

/// `value` as "2.1e-7" (two significant digits), or plainly from 0.01 up.
func scientific(_ value: Double) -> String {
    guard value > 0 && value < 0.01 else { return formatFixed(value, 2) }
    let exponent = Int(Foundation.log10(value).rounded(.down))
    var mantissa = value / Foundation.pow(10, Double(exponent))
    var e = exponent
    if (mantissa * 10).rounded() >= 100 { mantissa /= 10; e += 1 }
    return formatFixed(mantissa, 1) + "e\(e)"
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

    /// The share of the data span added on each side when an axis is fitted to the data.
    static let margin = 0.05

    /// `value` in axis units, or `nil` where it cannot be placed: not finite, beyond ±10³⁰⁰ (so
    /// spans stay finite), or ≤ 0 on a log axis.
    static func position(_ value: Double, _ scale: LinePlot.Scale) -> Double? {
        guard abs(value) <= 1e300 else { return nil }
        switch scale {
        case .linear: return value
        case .log10: return value > 0 ? Foundation.log10(value) : nil
        }
    }

    /// An axis showing `range`, or else the placeable `values` with a margin (or a default range,
    /// 0…1 linear and 1…10 log, when there are none). A range that is not increasing and finite,
    /// or not positive on a log axis, is an error naming `name`.
    init(scale: LinePlot.Scale, range: ClosedRange<Double>?, values: [Double], name: String) throws {
        var lower: Double, upper: Double
        if let range {
            guard range.lowerBound < range.upperBound, max(abs(range.lowerBound), abs(range.upperBound)) <= 1e300 else {
                throw PlotError.badRange(axis: name, "\(range) must be increasing, within ±1e300")
            }
            guard scale == .linear || range.lowerBound > 0 else {
                throw PlotError.badRange(axis: name, "the log axis range \(range) must be positive")
            }
            (lower, upper) = scale == .linear ? (range.lowerBound, range.upperBound)
                : (Foundation.log10(range.lowerBound), Foundation.log10(range.upperBound))
        } else {
            let positions = values.compactMap { PlotAxis.position($0, scale) }
            if let low = positions.min(), let high = positions.max() {
                (lower, upper) = (low, high)
                if upper - lower <= 1e-12 * max(1, abs(lower)) {  // one value: ±10 % (±1 around 0; ±0.1 decade)
                    let half = scale == .log10 ? 0.1 : lower == 0 ? 1 : abs(lower) / 10
                    (lower, upper) = (lower - half, upper + half)
                } else {
                    let pad = (upper - lower) * Self.margin
                    let nonNegative = scale == .linear && lower >= 0
                    (lower, upper) = (lower - pad, upper + pad)
                    if nonNegative { lower = max(lower, 0) }  // no negative ticks under non-negative data
                }
            } else {
                (lower, upper) = scale == .linear ? (0, 1) : (0, 1)
            }
        }
        self.scale = scale
        (self.lower, self.upper) = (lower, upper)
        ticks = scale == .linear ? Self.linearTicks(lower, upper) : Self.logTicks(lower, upper)
    }

    /// Ticks at multiples of the 1, 2 or 5 × 10ᵏ step that gives about four to eight of them.
    static func linearTicks(_ lower: Double, _ upper: Double) -> [Tick] {
        let (step, exponent) = niceStep((upper - lower) / 7)
        let first = Int((lower / step - 1e-9).rounded(.up)), last = Int((upper / step + 1e-9).rounded(.down))
        guard first <= last else { return [] }
        return (first...last).map { Tick(position: Double($0) * step, label: formatFixed(Double($0) * step, max(0, -exponent))) }
    }

    /// Labels at the coarsest of: decades (every n-th beyond 8), 1-2-5, every multiple, that puts
    /// at least four labels in the range; finer than that, linear steps in value. Unlabelled
    /// minor ticks at the other multiples up to 8 decades.
    static func logTicks(_ lower: Double, _ upper: Double) -> [Tick] {
        let decades = upper - lower
        let labelEvery = max(1, Int((decades / 8 - 1e-9).rounded(.up)))
        func ticks(labelled: Set<Int>) -> [Tick] {
            var out: [Tick] = []
            for decade in Int(lower.rounded(.down))...Int(upper.rounded(.up)) {
                for mantissa in 1...(decades <= 8 + 1e-9 ? 9 : 1) {
                    let position = Foundation.log10(Double(mantissa)) + Double(decade)
                    guard position >= lower - 1e-9 && position <= upper + 1e-9 else { continue }
                    let label = labelled.contains(mantissa) && (mantissa != 1 || decade % labelEvery == 0)
                    out.append(Tick(position: position, label: label ? logLabel(mantissa, decade) : nil))
                }
            }
            return out
        }
        for labelled: Set<Int> in [[1], [1, 2, 5], Set(1...9)] {
            let candidate = ticks(labelled: labelled)
            if candidate.filter({ $0.label != nil }).count >= 4 { return candidate }
        }
        // Less than a factor of about 1.5: plain steps in value, placed on the log axis.
        let (low, high) = (Foundation.pow(10, lower), Foundation.pow(10, upper))
        let (step, exponent) = niceStep((high - low) / 5)
        let first = Int((low / step - 1e-9).rounded(.up)), last = Int((high / step + 1e-9).rounded(.down))
        guard first <= last else { return [] }
        return (first...last).compactMap { k in
            let value = Double(k) * step
            return value > 0 ? Tick(position: Foundation.log10(value), label: formatFixed(value, max(0, -exponent))) : nil
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

    /// m × 10ᵏ as a plain number where that is short (10⁻⁴ … 10⁶), else as "m×10ᵏ".
    static func logLabel(_ mantissa: Int, _ exponent: Int) -> String {
        switch exponent {
        case 0...6: "\(mantissa)" + String(repeating: "0", count: exponent)
        case -4 ..< 0: formatFixed(Double(mantissa) * Foundation.pow(10, Double(exponent)), -exponent)
        default: (mantissa == 1 ? "" : "\(mantissa)×") + "10" + superscript(exponent)
        }
    }

    /// `value` in Unicode superscript digits.
    static func superscript(_ value: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (value < 0 ? "⁻" : "") + String(abs(value)).compactMap { $0.wholeNumberValue.map { digits[$0] } }
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
    return (value < 0 && scaled != 0 ? "−" : "") + digits
}

/// What can go wrong drawing a plot.
public enum PlotError: Error, LocalizedError, Equatable {
    /// An explicit axis range that cannot be drawn.
    case badRange(axis: String, String)
    /// The size leaves no room for the plot frame.
    case tooSmall(width: Double, height: Double)
    /// cairo reported an error (out of memory, a surface it cannot create).
    case cairo(String)

    public var errorDescription: String? {
        switch self {
        case let .badRange(axis, reason): "plot: the \(axis) range \(reason)"
        case let .tooSmall(width, height): "plot: \(formatFixed(width, 0))×\(formatFixed(height, 0)) leaves no room for the plot frame"
        case let .cairo(reason): "plot: cairo failed: \(reason)"
        }
    }
}
