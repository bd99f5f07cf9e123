extension LinePlot {
    /// The plot as an RGB image on white, with the layout of `svg(width:height:)` for text in
    /// `BitmapFont` at twice its size (12 × 16 px per character; see `BitmapFont` for how non-ASCII
    /// text is drawn). Not anti-aliased: 1 px frame, grid and ticks, 2 px series lines (Bresenham
    /// with a 2 × 2 brush), 7 px markers centred on the rounded pixel position of each point. The
    /// same plot always gives the same pixels. The size must leave the frame at least 20 px each way.
    public func rasterized(width: Int = 960, height: Int = 630) -> Image8 {
        let fontScale = 2
        let layout = PlotLayout(self, width: width, height: height,
                                charWidth: BitmapFont.cellWidth * fontScale, lineHeight: BitmapFont.cellHeight * fontScale)
        let (left, top, right, bottom) = (layout.left, layout.top, layout.right, layout.bottom)
        let (pad, gap, tick) = (PlotLayout.padding, PlotLayout.gap, PlotLayout.tickLength)
        let inkMiddle = 7 * fontScale / 2  // from the top of a line of text to the middle of its capitals
        var canvas = Canvas(width: width, height: height, channels: 3)
        let xTicks = layout.x.ticks.map { (pixel: Int(layout.xPixel($0.position).rounded()), label: $0.label) }
        let yTicks = layout.y.ticks.map { (pixel: Int(layout.yPixel($0.position).rounded()), label: $0.label) }

        for t in xTicks where t.label != nil { canvas.fill(t.pixel, top, t.pixel, bottom, .grid) }
        for t in yTicks where t.label != nil { canvas.fill(left, t.pixel, right, t.pixel, .grid) }
        for t in xTicks { canvas.fill(t.pixel, bottom, t.pixel, bottom + (t.label == nil ? tick / 2 : tick), .black) }
        for t in yTicks { canvas.fill(left - (t.label == nil ? tick / 2 : tick), t.pixel, left, t.pixel, .black) }
        canvas.fill(left, top, right, top, .black)
        canvas.fill(left, bottom, right, bottom, .black)
        canvas.fill(left, top, left, bottom, .black)
        canvas.fill(right, top, right, bottom, .black)
        for t in xTicks {
            guard let label = t.label else { continue }
            canvas.text(label, x: t.pixel, y: bottom + tick + gap, scale: fontScale, anchor: .middle)
        }
        for t in yTicks {
            guard let label = t.label else { continue }
            canvas.text(label, x: left - tick - gap, y: t.pixel - inkMiddle, scale: fontScale, anchor: .end)
        }
        canvas.text(title, x: (left + right) / 2, y: pad, scale: fontScale, anchor: .middle)
        canvas.text(xLabel, x: (left + right) / 2, y: height - pad - layout.lineHeight, scale: fontScale, anchor: .middle)
        canvas.text(yLabel, x: pad, y: (top + bottom) / 2, scale: fontScale, anchor: .middle, vertical: true)

        for (index, series) in series.enumerated() {
            let color = color(of: index)
            let runs = layout.runs(of: series)
            canvas.clip = (left, top, right, bottom)
            for run in runs {
                var phase = 0  // dashes run on along the whole polyline, as in the SVG
                for (a, b) in zip(run, run.dropFirst()) { canvas.line(a, b, color, dashed: series.dashed, phase: &phase) }
            }
            for bar in layout.errorBars(of: series) {
                canvas.line((bar.x, bar.y0), (bar.x, bar.y1), color)
                canvas.line((bar.x - 6, bar.y0), (bar.x + 6, bar.y0), color)
                canvas.line((bar.x - 6, bar.y1), (bar.x + 6, bar.y1), color)
            }
            canvas.clip = (0, 0, width - 1, height - 1)
            let square = squareMarkers(index)
            for p in runs.joined() where series.markers && layout.insideFrame(p) {
                canvas.marker(Int(p.x.rounded()), Int(p.y.rounded()), square: square, color)
            }
        }

        if let box = layout.legend {
            canvas.fill(box.x, box.y, box.x + box.width, box.y + box.height, .legendBorder)
            canvas.fill(box.x + 1, box.y + 1, box.x + box.width - 1, box.y + box.height - 1, .white)
            for (index, series) in series.enumerated() {
                let color = color(of: index)
                let middle = box.y + gap + index * layout.lineHeight + layout.lineHeight / 2
                let (start, end) = (box.x + 2 * gap, box.x + 2 * gap + 3 * layout.charWidth)
                var phase = 0
                canvas.line((Double(start), Double(middle)), (Double(end), Double(middle)), color, dashed: series.dashed, phase: &phase)
                if series.markers { canvas.marker((start + end) / 2, middle, square: squareMarkers(index), color) }
                canvas.text(series.name, x: end + gap, y: middle - inkMiddle, scale: fontScale, anchor: .start)
            }
        }
        return canvas.image
    }
}

extension Image8 {
    /// A grid of samples with a text label left of each row — say, one row per sampler, one column
    /// per seed — and optionally a label above each column. Every image is upscaled by `scale`
    /// (nearest neighbour) into a cell with 2 px white gutters around and between cells (6 px after
    /// the row labels); rows with fewer images leave the rest blank. Labels are black `BitmapFont`
    /// text, at twice its size when cells are at least 16 px tall; column labels drop to single
    /// size when one would be wider than a cell at that size, and are cut short if still so.
    /// The result is RGB when any image is (gray images are then replicated into R, G and B), else
    /// gray. All images must have the same width and height, and there must be at least one.
    public static func labeledGrid(rows: [(label: String, images: [Image8])], scale: Int = 1,
                                   columnLabels: [String]? = nil) -> Image8 {
        let images = rows.flatMap(\.images)
        guard let first = images.first else { preconditionFailure("labeledGrid: no images") }
        precondition(scale >= 1, "labeledGrid: scale must be at least 1, not \(scale)")
        precondition(images.allSatisfy { $0.width == first.width && $0.height == first.height },
                     "labeledGrid: images differ in size")
        let gutter = 2
        let (cellWidth, cellHeight) = (first.width * scale, first.height * scale)
        let fontScale = cellHeight >= 2 * BitmapFont.cellHeight ? 2 : 1
        let labelWidth = rows.map { BitmapFont.width($0.label, scale: fontScale) }.max() ?? 0
        let columns = max(rows.map(\.images.count).max() ?? 0, columnLabels?.count ?? 0)
        let headerFits = (columnLabels ?? []).allSatisfy { BitmapFont.width($0, scale: fontScale) <= cellWidth }
        let headerScale = headerFits ? fontScale : 1
        let imagesLeft = labelWidth > 0 ? gutter + labelWidth + 3 * gutter : gutter
        let imagesTop = gutter + (columnLabels == nil ? 0 : BitmapFont.cellHeight * headerScale + gutter)
        var canvas = Canvas(width: imagesLeft + columns * (cellWidth + gutter),
                            height: imagesTop + rows.count * (cellHeight + gutter),
                            channels: images.contains { $0.channels == 3 } ? 3 : 1)

        for (column, label) in (columnLabels ?? []).enumerated() {
            var label = label
            while BitmapFont.width(label, scale: headerScale) > cellWidth { label.removeLast() }
            canvas.text(label, x: imagesLeft + column * (cellWidth + gutter) + cellWidth / 2, y: gutter,
                        scale: headerScale, anchor: .middle)
        }
        for (row, entry) in rows.enumerated() {
            let y = imagesTop + row * (cellHeight + gutter)
            canvas.text(entry.label, x: gutter, y: y + (cellHeight - 7 * fontScale) / 2, scale: fontScale, anchor: .start)
            for (column, image) in entry.images.enumerated() {
                canvas.draw(image, scale: scale, x: imagesLeft + column * (cellWidth + gutter), y: y)
            }
        }
        return canvas.image
    }
}

/// A white pixel buffer to draw on, gray or RGB; drawing outside `clip` (inclusive) is dropped.
struct Canvas {
    enum Anchor { case start, middle, end }

    let width: Int, height: Int, channels: Int
    var pixels: [UInt8]
    var clip: (x0: Int, y0: Int, x1: Int, y1: Int)

    init(width: Int, height: Int, channels: Int) {
        (self.width, self.height, self.channels) = (width, height, channels)
        pixels = [UInt8](repeating: 255, count: width * height * channels)
        clip = (0, 0, width - 1, height - 1)
    }

    var image: Image8 { Image8(width: width, height: height, channels: channels, pixels: pixels) }

    /// Gray canvases take the colour's luma (BT.601).
    mutating func set(_ x: Int, _ y: Int, _ color: PlotColor) {
        guard x >= clip.x0 && x <= clip.x1 && y >= clip.y0 && y <= clip.y1 else { return }
        let i = (y * width + x) * channels
        if channels == 3 {
            (pixels[i], pixels[i + 1], pixels[i + 2]) = (color.red, color.green, color.blue)
        } else {
            let (r, g, b): (Int, Int, Int) = (Int(color.red), Int(color.green), Int(color.blue))
            pixels[i] = UInt8((299 * r + 587 * g + 114 * b + 500) / 1000)
        }
    }

    /// Fills the rectangle with corners (x0, y0) and (x1, y1), both included.
    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: PlotColor) {
        for y in min(y0, y1)...max(y0, y1) { for x in min(x0, x1)...max(x0, x1) { set(x, y, color) } }
    }

    /// A solid 2 px line (see the dashed form).
    mutating func line(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double), _ color: PlotColor) {
        var phase = 0
        line(a, b, color, dashed: false, phase: &phase)
    }

    /// A 2 px line: the segment is clipped to `clip`, then drawn by Bresenham with a 2 × 2 brush.
    /// Dashed: `LinePlot.dash` steps on and off along the major axis; `phase` counts the steps drawn
    /// so far, so the dashes of a polyline run on across its segments.
    mutating func line(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double), _ color: PlotColor,
                       dashed: Bool, phase: inout Int) {
        // Liang–Barsky clipping, so far-off points cost nothing.
        let (dx, dy) = (b.x - a.x, b.y - a.y)
        guard dx.isFinite && dy.isFinite else { return }
        var (t0, t1) = (0.0, 1.0)
        let (left, top, right, bottom) = (Double(clip.x0), Double(clip.y0), Double(clip.x1), Double(clip.y1))
        for (p, q) in [(-dx, a.x - left), (dx, right - a.x), (-dy, a.y - top), (dy, bottom - a.y)] {
            if p == 0 {
                if q < 0 { return }
            } else if p < 0 {
                t0 = max(t0, q / p)
            } else {
                t1 = min(t1, q / p)
            }
        }
        guard t0 <= t1 else { return }
        var (x, y) = (Int((a.x + t0 * dx).rounded()), Int((a.y + t0 * dy).rounded()))
        let (x1, y1) = (Int((a.x + t1 * dx).rounded()), Int((a.y + t1 * dy).rounded()))
        let (stepX, stepY) = (x < x1 ? 1 : -1, y < y1 ? 1 : -1)
        let (distanceX, distanceY) = (abs(x1 - x), -abs(y1 - y))
        var error = distanceX + distanceY
        let period = LinePlot.dash.on + LinePlot.dash.off
        while true {
            if !dashed || phase % period < LinePlot.dash.on { fill(x, y, x + 1, y + 1, color) }
            phase += 1
            if x == x1 && y == y1 { break }
            let doubled = 2 * error
            if doubled >= distanceY { error += distanceY; x += stepX }
            if doubled <= distanceX { error += distanceX; y += stepY }
        }
    }

    /// A filled 7 × 7 square, or a disc of radius √12 (7 px across), centred on (x, y).
    mutating func marker(_ x: Int, _ y: Int, square: Bool, _ color: PlotColor) {
        for dy in -3...3 { for dx in -3...3 where square || dx * dx + dy * dy <= 12 { set(x + dx, y + dy, color) } }
    }

    /// Black `BitmapFont` text at `scale`, its cells' top edge at `y` and `x` its start, middle or
    /// end. Vertical text reads bottom to top: `y` is then the anchor and `x` the left edge.
    mutating func text(_ text: String, x: Int, y: Int, scale: Int, anchor: Anchor, vertical: Bool = false) {
        let width = BitmapFont.width(text, scale: scale)
        let start = anchor == .start ? 0 : anchor == .middle ? -width / 2 : -width
        for (index, glyph) in BitmapFont.glyphs(text).enumerated() {
            for column in 0..<BitmapFont.cellWidth {
                for row in 0..<BitmapFont.cellHeight where BitmapFont.isInk(glyph, column: column, row: row) {
                    let along = start + (index * BitmapFont.cellWidth + column) * scale, across = row * scale
                    if vertical {
                        fill(x + across, y - along, x + across + scale - 1, y - along - scale + 1, .black)
                    } else {
                        fill(x + along, y + across, x + along + scale - 1, y + across + scale - 1, .black)
                    }
                }
            }
        }
    }

    /// `image` upscaled by `scale` (nearest neighbour) with its top-left corner at (x, y); gray
    /// images are replicated into R, G and B on an RGB canvas.
    mutating func draw(_ image: Image8, scale: Int, x: Int, y: Int) {
        precondition(image.channels <= channels, "Canvas: cannot draw an RGB image on a gray canvas")
        for row in 0..<image.height * scale {
            for column in 0..<image.width * scale {
                let source = ((row / scale) * image.width + column / scale) * image.channels
                let target = ((y + row) * width + x + column) * channels
                for c in 0..<channels { pixels[target + c] = image.pixels[source + (image.channels == 3 ? c : 0)] }
            }
        }
    }
}
