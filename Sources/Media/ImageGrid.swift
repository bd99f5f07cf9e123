import CCairo
import Foundation

extension Image8 {
    /// A grid of samples with a text label left of each row — say, one row per sampler, one column
    /// per seed — and optionally a label above each column. Every image is upscaled by `scale`
    /// (nearest neighbour) into a cell with 2 px white gutters around and between cells (6 px after
    /// the row labels); rows with fewer images leave the rest blank. Labels are black text in the
    /// plot font (`plotFontFamily`), 13 px when cells are at least 24 px tall, else 9 px; a column
    /// label wider than its cell is cut short. The result is RGB when any image is (gray images are
    /// then replicated into R, G and B), else gray. Throws when there are no images, `scale` is
    /// below 1, the images differ in size, or cairo fails.
    public static func labeledGrid(rows: [(label: String, images: [Image8])], scale: Int = 1,
                                   columnLabels: [String]? = nil) throws -> Image8 {
        let images = rows.flatMap(\.images)
        guard let first = images.first else { throw PlotError.cairo("labeledGrid: no images") }
        guard scale >= 1, scale <= 64 else { throw PlotError.cairo("labeledGrid: scale must be 1…64, not \(scale)") }
        guard images.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw PlotError.cairo("labeledGrid: the images differ in size")
        }
        let gutter = 2
        let (cellWidth, cellHeight) = (first.width * scale, first.height * scale)
        let fontSize = cellHeight >= 24 ? 13.0 : 9.0
        let measure = try CairoContext.measuring()
        func width(_ text: String) -> Int { Int(measure.width(PlotText(text), size: fontSize, bold: false).rounded(.up)) }
        var headers = columnLabels ?? []
        for i in headers.indices { while !headers[i].isEmpty && width(headers[i]) > cellWidth { headers[i].removeLast() } }
        let labelWidth = rows.map { width($0.label) }.max() ?? 0
        let columns = max(rows.map(\.images.count).max() ?? 0, headers.count)
        let textHeight = Int((fontSize * 1.3).rounded(.up))
        let imagesLeft = labelWidth > 0 ? gutter + labelWidth + 3 * gutter : gutter
        let imagesTop = gutter + (columnLabels == nil ? 0 : textHeight + gutter)
        let (gridWidth, gridHeight) = (imagesLeft + columns * (cellWidth + gutter), imagesTop + rows.count * (cellHeight + gutter))
        guard gridWidth <= 32767, gridHeight <= 32767 else { throw PlotError.cairo("labeledGrid: \(gridWidth)×\(gridHeight) px is too large") }

        let context = try CairoContext(surface: cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(gridWidth), Int32(gridHeight)))
        let cr = context.cr
        context.setColor(.white)
        cairo_paint(cr)
        cairo_surface_flush(context.surface)
        if let data = cairo_image_surface_get_data(context.surface) {
            let stride = Int(cairo_image_surface_get_stride(context.surface))
            for (row, entry) in rows.enumerated() {
                for (column, image) in entry.images.enumerated() {
                    let (x0, y0) = (imagesLeft + column * (cellWidth + gutter), imagesTop + row * (cellHeight + gutter))
                    for y in 0..<cellHeight {
                        let target = UnsafeMutableRawPointer(data + (y0 + y) * stride).assumingMemoryBound(to: UInt32.self)
                        for x in 0..<cellWidth {
                            let source = ((y / scale) * image.width + x / scale) * image.channels
                            let (r, g, b) = image.channels == 3
                                ? (image.pixels[source], image.pixels[source + 1], image.pixels[source + 2])
                                : (image.pixels[source], image.pixels[source], image.pixels[source])
                            target[x0 + x] = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
                        }
                    }
                }
            }
        }
        cairo_surface_mark_dirty(context.surface)
        context.setColor(.black)
        for (column, label) in headers.enumerated() where !label.isEmpty {
            let x = Double(imagesLeft + column * (cellWidth + gutter)) + (Double(cellWidth) - Double(width(label))) / 2
            cairo_move_to(cr, x, Double(gutter) + fontSize)
            context.show(PlotText(label), size: fontSize, bold: false)
        }
        for (row, entry) in rows.enumerated() where !entry.label.isEmpty {
            let middle = Double(imagesTop + row * (cellHeight + gutter)) + Double(cellHeight) / 2
            cairo_move_to(cr, Double(gutter), middle + fontSize * 0.35)
            context.show(PlotText(entry.label), size: fontSize, bold: false)
        }
        try context.check()
        let rgb = context.rgbImage()
        guard !images.contains(where: { $0.channels == 3 }) else { return rgb }
        return Image8(width: rgb.width, height: rgb.height, channels: 1, pixels: stride(from: 0, to: rgb.pixels.count, by: 3).map { rgb.pixels[$0] })
    }
}
