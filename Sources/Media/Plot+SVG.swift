extension LinePlot {
    /// The plot as a standalone SVG 1.1 document (UTF-8, `width` × `height` user units, sans-serif
    /// text at 12 px), laid out for up to 8 px per character. Coordinates carry at most two decimals,
    /// so the same plot always gives the same string. Each series is a `<g>` clipped to the frame
    /// holding one `<polyline>` per unbroken run of two or more points, followed by its markers.
    /// The size must leave the frame at least 20 units each way.
    public func svg(width: Int = 640, height: Int = 420) -> String {
        let layout = PlotLayout(self, width: width, height: height, charWidth: 8, lineHeight: 14)
        let (left, top) = (Double(layout.left), Double(layout.top))
        let (right, bottom) = (Double(layout.right), Double(layout.bottom))
        let (pad, gap, tick) = (Double(PlotLayout.padding), Double(PlotLayout.gap), Double(PlotLayout.tickLength))
        let black = PlotColor.black.hex
        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(width)" height="\(height)" \
        viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect x="0" y="0" width="\(width)" height="\(height)" fill="#FFFFFF"/>
        <defs><clipPath id="frame">\(rect(left, top, right - left, bottom - top))</clipPath></defs>\n
        """
        func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
            "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\"/>\n"
        }
        func text(_ string: String, _ x: Double, _ baseline: Double, anchor: String, extra: String = "") -> String {
            "<text x=\"\(n(x))\" y=\"\(n(baseline))\" text-anchor=\"\(anchor)\"\(extra)>\(escapeXML(string))</text>\n"
        }
        func marker(square: Bool, _ p: (x: Double, y: Double), _ color: String) -> String {
            !square
                ? "<circle cx=\"\(n(p.x))\" cy=\"\(n(p.y))\" r=\"3.5\" fill=\"\(color)\"/>\n"
                : rect(p.x - 3.5, p.y - 3.5, 7, 7, " fill=\"\(color)\"") + "\n"
        }
        let xTicks = layout.x.ticks.map { (pixel: layout.xPixel($0.position), label: $0.label) }
        let yTicks = layout.y.ticks.map { (pixel: layout.yPixel($0.position), label: $0.label) }

        svg += "<g stroke=\"\(PlotColor.grid.hex)\" stroke-width=\"1\">\n"
        for t in xTicks where t.label != nil { svg += line(t.pixel, top, t.pixel, bottom) }
        for t in yTicks where t.label != nil { svg += line(left, t.pixel, right, t.pixel) }
        svg += "</g>\n<g stroke=\"\(black)\" stroke-width=\"1\">\n"
        for t in xTicks { svg += line(t.pixel, bottom, t.pixel, bottom + (t.label == nil ? tick / 2 : tick)) }
        for t in yTicks { svg += line(left - (t.label == nil ? tick / 2 : tick), t.pixel, left, t.pixel) }
        svg += "</g>\n" + rect(left, top, right - left, bottom - top, " fill=\"none\" stroke=\"\(black)\"") + "\n"
        svg += "<g fill=\"\(black)\">\n"
        for t in xTicks { if let label = t.label { svg += text(label, t.pixel, bottom + tick + gap + 11, anchor: "middle") } }
        for t in yTicks { if let label = t.label { svg += text(label, left - tick - gap, t.pixel + 4, anchor: "end") } }
        if !title.isEmpty {
            svg += text(title, (left + right) / 2, pad + 11, anchor: "middle",
                        extra: " font-size=\"13\" font-weight=\"bold\"")
        }
        if !xLabel.isEmpty { svg += text(xLabel, (left + right) / 2, Double(height) - pad - 3, anchor: "middle") }
        if !yLabel.isEmpty {
            let (x, y) = (n(pad + 11), n((top + bottom) / 2))
            svg += text(yLabel, pad + 11, (top + bottom) / 2, anchor: "middle",
                        extra: " transform=\"rotate(-90 \(x) \(y))\"")
        }
        svg += "</g>\n"

        let dash = " stroke-dasharray=\"\(LinePlot.dash.on) \(LinePlot.dash.off)\""
        for (index, series) in series.enumerated() {
            let color = color(of: index).hex
            svg += "<g clip-path=\"url(#frame)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\""
                + " stroke-linejoin=\"round\"\(series.dashed ? dash : "")>\n"
            for run in layout.runs(of: series) where run.count >= 2 {
                svg += "<polyline points=\"" + run.map { n($0.x) + "," + n($0.y) }.joined(separator: " ") + "\"/>\n"
            }
            svg += "</g>\n"
            let bars = layout.errorBars(of: series)
            if !bars.isEmpty {
                svg += "<g clip-path=\"url(#frame)\" stroke=\"\(color)\" stroke-width=\"1\">\n"
                for bar in bars {
                    svg += line(bar.x, bar.y0, bar.x, bar.y1) + line(bar.x - 4, bar.y0, bar.x + 4, bar.y0)
                        + line(bar.x - 4, bar.y1, bar.x + 4, bar.y1)
                }
                svg += "</g>\n"
            }
            let square = squareMarkers(index)
            for p in layout.runs(of: series).joined() where series.markers && layout.insideFrame(p) { svg += marker(square: square, p, color) }
        }

        if let box = layout.legend {
            svg += "<g>\n" + rect(Double(box.x), Double(box.y), Double(box.width), Double(box.height),
                                  " fill=\"#FFFFFF\" stroke=\"\(PlotColor.legendBorder.hex)\" stroke-width=\"1\"") + "\n"
            for (index, series) in series.enumerated() {
                let color = color(of: index).hex
                let middle = Double(box.y) + gap + (Double(index) + 0.5) * Double(layout.lineHeight)
                let (start, end) = (Double(box.x) + 2 * gap, Double(box.x) + 2 * gap + Double(3 * layout.charWidth))
                svg += "<g stroke=\"\(color)\" stroke-width=\"2\"\(series.dashed ? dash : "")>"
                    + line(start, middle, end, middle).dropLast() + "</g>\n"
                if series.markers { svg += marker(square: squareMarkers(index), ((start + end) / 2, middle), color) }
                svg += text(series.name, end + gap, middle + 4, anchor: "start", extra: " fill=\"\(black)\"")
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }
}

/// `value` with at most two decimals, trailing zeros dropped.
private func n(_ value: Double) -> String {
    var s = formatFixed(value, 2)
    while s.hasSuffix("0") && s.contains(".") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

private func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, _ attributes: String = "") -> String {
    "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\"\(attributes)/>"
}

/// `text` with the five XML special characters escaped and characters XML 1.0 forbids dropped.
func escapeXML(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default:
            if scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF { out.unicodeScalars.append(scalar) }
        }
    }
    return out
}
