import ArgumentParser
import Files
import Foundation
import Media

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot columns of a CSV file (a training log, a sweep's results.csv) as PNG, SVG or PDF.",
        discussion: """
            The first row names the columns; every other row is one point. Cells that are empty or not \
            numbers leave a gap in their series. Drawn through cairo in fontconfig's sans-serif font; \
            a series of more than \(LinePlot.markerLimit) points is a bare line, series that coincide are \
            named under the plot, and the legend (with two or more series) sits right of the frame.
            Example: skipstep plot training/fashion-ddpm-28/train.csv --x step --y loss --log-y --out loss.svg
            """)

    @Argument(help: ArgumentHelp("The CSV file.", valueName: "file.csv"))
    var csv: String

    @Option(help: "The column on the x axis.")
    var x: String

    @Option(help: "A column to draw against x (repeat, or separate with commas, for several series).")
    var y: [String]

    @Flag(help: "Logarithmic x axis.")
    var logX = false

    @Flag(help: "Logarithmic y axis.")
    var logY = false

    @Option(help: "The title above the plot.")
    var title: String = ""

    @Option(help: ArgumentHelp("Where to write: a path ending in .png, .svg or .pdf.", valueName: "path"))
    var out: String

    func validate() throws {
        guard PlotFormat(path: out) != nil else {
            throw ValidationError("--out \(out): expected a path ending in .png, .svg or .pdf")
        }
    }

    func run() throws {
        let text: String
        do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
            throw ValidationError("\(csv): cannot read (\(error.localizedDescription))")
        }
        let rows = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = rows.first else { throw ValidationError("\(csv): empty file, expected a header row") }
        func column(_ name: String) throws -> [Double] {
            guard let index = header.firstIndex(of: name) else {
                throw ValidationError("\(csv): no column '\(name)' (columns: \(header.joined(separator: ", ")))")
            }
            return rows.dropFirst().map { index < $0.count ? Double($0[index]) ?? .nan : .nan }
        }
        let xs = try column(x)
        let names = y.flatMap { $0.split(separator: ",").map(String.init) }
        let series = try names.map { LinePlot.Series($0, x: xs, y: try column($0)) }
        let plot = LinePlot(title: title, xLabel: x, yLabel: names.count == 1 ? names[0] : "",
                            xScale: logX ? .log10 : .linear, yScale: logY ? .log10 : .linear, series: series,
                            legend: names.count > 1 ? .right : .none)
        let url = URL(fileURLWithPath: out)
        guard let format = PlotFormat(path: out) else { throw ValidationError("--out \(out): expected .png, .svg or .pdf") }
        try AtomicFile.write(plot.render(format), to: url)
        log("wrote \(out) (\(xs.count) rows, \(names.count) series)")
    }
}
