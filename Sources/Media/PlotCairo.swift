import CCairo
import Foundation

/// The font plots and grids are set in: fontconfig's default sans-serif face (DejaVu Sans on
/// Debian, from fonts-dejavu-core), through cairo's text API.
let plotFontFamily = "sans-serif"

/// A cairo context with the plot font selected, drawing on `surface`.
final class CairoContext {
    let surface: OpaquePointer
    let cr: OpaquePointer

    init(surface: OpaquePointer) throws {
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            let reason = String(cString: cairo_status_to_string(cairo_surface_status(surface)))
            cairo_surface_destroy(surface)
            throw PlotError.cairo(reason)
        }
        self.surface = surface
        cr = cairo_create(surface)
        guard cairo_status(cr) == CAIRO_STATUS_SUCCESS else {
            let reason = String(cString: cairo_status_to_string(cairo_status(cr)))
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
            throw PlotError.cairo(reason)
        }
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)  // the same widths on every surface
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
    }

    /// A context on a 1 × 1 image, for measuring text.
    static func measuring() throws -> CairoContext {
        try CairoContext(surface: cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1))
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    /// Throws if cairo has recorded an error on the context or the surface.
    func check() throws {
        for status in [cairo_status(cr), cairo_surface_status(surface)] where status != CAIRO_STATUS_SUCCESS {
            throw PlotError.cairo(String(cString: cairo_status_to_string(status)))
        }
    }

    func font(size: Double, bold: Bool) {
        cairo_select_font_face(cr, plotFontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    func setColor(_ color: PlotColor) {
        cairo_set_source_rgb(cr, Double(color.red) / 255, Double(color.green) / 255, Double(color.blue) / 255)
    }

    /// The advance of `string` in the current font.
    func advance(_ string: String) -> Double {
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, string, &extents)
        return extents.x_advance
    }

    /// Subscripts: this share of the size, lowered by `subscriptDrop` × size.
    static let subscriptScale = 0.7, subscriptDrop = 0.22

    /// Draws `text` with its baseline starting at the current point.
    func show(_ text: PlotText, size: Double, bold: Bool) {
        for run in text.runs {
            font(size: run.isSubscript ? size * Self.subscriptScale : size, bold: bold)
            if run.isSubscript { cairo_rel_move_to(cr, 0, size * Self.subscriptDrop) }
            cairo_show_text(cr, run.text)
            if run.isSubscript { cairo_rel_move_to(cr, 0, -size * Self.subscriptDrop) }
        }
    }
}

extension CairoContext: PlotTextMeasure {
    func width(_ text: PlotText, size: Double, bold: Bool) -> Double {
        text.runs.reduce(0) { total, run in
            font(size: run.isSubscript ? size * Self.subscriptScale : size, bold: bold)
            return total + advance(run.text)
        }
    }
}

extension PlotDrawing {
    /// Draws every mark on `context`.
    func draw(on context: CairoContext) {
        let cr = context.cr
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT)
        for mark in marks {
            switch mark {
            case let .line(points, color, width, dashed, clip):
                guard let first = points.first else { continue }
                cairo_save(cr)
                if let clip {
                    cairo_rectangle(cr, clip.x, clip.y, clip.width, clip.height)
                    cairo_clip(cr)
                }
                context.setColor(color)
                cairo_set_line_width(cr, width)
                if dashed {
                    let dashes = [LinePlot.dash.on, LinePlot.dash.off]
                    cairo_set_dash(cr, dashes, Int32(dashes.count), 0)
                }
                cairo_move_to(cr, first.x, first.y)
                for p in points.dropFirst() { cairo_line_to(cr, p.x, p.y) }
                cairo_stroke(cr)
                cairo_restore(cr)
            case let .rect(rect, fill, stroke, lineWidth):
                cairo_rectangle(cr, rect.x, rect.y, rect.width, rect.height)
                if let fill {
                    context.setColor(fill)
                    if stroke == nil { cairo_fill(cr) } else { cairo_fill_preserve(cr) }
                }
                if let stroke {
                    context.setColor(stroke)
                    cairo_set_line_width(cr, lineWidth)
                    cairo_stroke(cr)
                }
            case let .marker(x, y, square, color):
                let size = PlotDrawing.markerSize
                context.setColor(color)
                if square {
                    cairo_rectangle(cr, x - size / 2, y - size / 2, size, size)
                } else {
                    cairo_new_sub_path(cr)
                    cairo_arc(cr, x, y, size / 2, 0, 2 * Double.pi)
                }
                cairo_fill(cr)
            case let .text(text, x, y, size, bold, anchor, vertical, color):
                let width = context.width(text, size: size, bold: bold)
                let shift = anchor == .start ? 0 : anchor == .middle ? -width / 2 : -width
                cairo_save(cr)
                cairo_translate(cr, x, y)
                if vertical { cairo_rotate(cr, -Double.pi / 2) }
                context.setColor(color)
                cairo_move_to(cr, shift, 0)
                context.show(text, size: size, bold: bold)
                cairo_restore(cr)
            }
        }
    }
}

/// Collects what a cairo stream surface writes.
private final class StreamSink {
    var data = Data()
}

private let appendToSink: cairo_write_func_t = { closure, bytes, length in
    guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<StreamSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
    return CAIRO_STATUS_SUCCESS
}

extension LinePlot {
    /// The default page: 640 × 420 points; PNGs at 1.5 pixels per point (960 × 630).
    public static let defaultSize = (width: 640.0, height: 420.0), pngScale = 1.5

    public var pageSize: (width: Double, height: Double) { Self.defaultSize }

    /// The drawing for a `width` × `height` point page, laid out with cairo's text widths.
    public func drawing(width: Double = LinePlot.defaultSize.width, height: Double = LinePlot.defaultSize.height) throws -> PlotDrawing {
        try drawing(width: width, height: height, measure: CairoContext.measuring())
    }
}

extension IntervalPlot: RenderablePlot {
    /// The drawing for a `width` × `height` point page, laid out with cairo's text widths.
    public func drawing(width: Double, height: Double) throws -> PlotDrawing {
        try drawing(width: width, height: height, measure: CairoContext.measuring())
    }
}

/// A plot that can be written as PNG, SVG or PDF: its title, its usual page and its layout on a page.
public protocol RenderablePlot: Sendable {
    var title: String { get }
    /// The page `render` and `image` use unless told otherwise, in points.
    var pageSize: (width: Double, height: Double) { get }
    /// The plot laid out on a `width` × `height` point page with cairo's text widths.
    func drawing(width: Double, height: Double) throws -> PlotDrawing
}

extension LinePlot: RenderablePlot {}

extension RenderablePlot {
    /// The plot as `format`, on a `width` × `height` point page (by default `pageSize`; PNG:
    /// `LinePlot.pngScale` pixels per point). PNGs are written by `Image8.pngData()`; SVG and PDF by
    /// cairo (text as glyph outlines), the SVG with the title and a description naming the series
    /// or rows and the caption, the PDF with the title as its metadata. Throws when the size leaves
    /// no room for the frame, an explicit range cannot be drawn, or cairo fails.
    public func render(_ format: PlotFormat, width: Double? = nil, height: Double? = nil) throws -> Data {
        let (width, height) = (width ?? pageSize.width, height ?? pageSize.height)
        switch format {
        case .png:
            return try image(width: width, height: height).pngData()
        case .svg, .pdf:
            let drawing = try drawing(width: width, height: height)
            let sink = StreamSink()
            let closure = Unmanaged.passUnretained(sink).toOpaque()
            let surface: OpaquePointer? = format == .svg
                ? cairo_svg_surface_create_for_stream(appendToSink, closure, width, height)
                : cairo_pdf_surface_create_for_stream(appendToSink, closure, width, height)
            guard let surface else { throw PlotError.cairo("no surface") }
            if format == .pdf {
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, PlotText(title).plain)
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "skipstep")
                cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "2000-01-01T00:00:00Z")
            }
            try withExtendedLifetime(sink) {
                let context = try CairoContext(surface: surface)
                drawing.draw(on: context)
                cairo_surface_finish(surface)
                try context.check()
            }
            return format == .svg ? LinePlot.describe(svg: sink.data, drawing) : sink.data
        }
    }

    /// The plot rasterised: RGB, `width` × `height` points (by default `pageSize`) at `scale` pixels per point.
    public func image(width: Double? = nil, height: Double? = nil, scale: Double = LinePlot.pngScale) throws -> Image8 {
        let (width, height) = (width ?? pageSize.width, height ?? pageSize.height)
        let drawing = try drawing(width: width, height: height)
        let (pixelsWide, pixelsHigh) = (Int((width * scale).rounded()), Int((height * scale).rounded()))
        guard pixelsWide > 0, pixelsHigh > 0, pixelsWide <= 32767, pixelsHigh <= 32767 else {
            throw PlotError.tooSmall(width: width * scale, height: height * scale)
        }
        let context = try CairoContext(surface: cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(pixelsWide), Int32(pixelsHigh)))
        cairo_scale(context.cr, scale, scale)
        drawing.draw(on: context)
        try context.check()
        return context.rgbImage()
    }
}

extension LinePlot {
    /// cairo's SVG with `<title>` and `<desc>` after the opening `<svg …>` tag, so the text the
    /// glyph outlines show can be read and searched, and with the group id cairo numbers across
    /// the process (`surfaceN`) set to `plot`, so the same plot gives the same bytes.
    static func describe(svg data: Data, _ drawing: PlotDrawing) -> Data {
        guard var svg = String(data: data, encoding: .utf8) else { return data }
        if let id = svg.range(of: #"<g id="surface[0-9]+">"#, options: .regularExpression) {
            svg.replaceSubrange(id, with: #"<g id="plot">"#)
        }
        guard let open = svg.range(of: "<svg"),
              let end = svg[open.upperBound...].firstIndex(of: ">") else { return data }
        let title = PlotText(drawing.title).plain
        let inserted = "\n" + (title.isEmpty ? "" : "<title>\(escapeXML(title))</title>\n")
            + (drawing.summary.isEmpty ? "" : "<desc>\(escapeXML(drawing.summary))</desc>\n")
        svg.insert(contentsOf: inserted.dropLast(), at: svg.index(after: end))
        return Data(svg.utf8)
    }
}

extension CairoContext {
    /// The image surface's pixels as RGB.
    func rgbImage() -> Image8 {
        cairo_surface_flush(surface)
        let (width, height) = (Int(cairo_image_surface_get_width(surface)), Int(cairo_image_surface_get_height(surface)))
        let stride = Int(cairo_image_surface_get_stride(surface))
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        if let data = cairo_image_surface_get_data(surface) {
            for y in 0..<height {
                let row = UnsafeRawPointer(data + y * stride).assumingMemoryBound(to: UInt32.self)
                for x in 0..<width {
                    let value = row[x], i = 3 * (y * width + x)
                    pixels[i] = UInt8(value >> 16 & 0xFF)
                    pixels[i + 1] = UInt8(value >> 8 & 0xFF)
                    pixels[i + 2] = UInt8(value & 0xFF)
                }
            }
        }
        return Image8(width: width, height: height, channels: 3, pixels: pixels)
    }
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
