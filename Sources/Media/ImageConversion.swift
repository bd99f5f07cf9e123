extension Image8 {
    /// One model-space sample as an 8-bit value, exactly as diffusers turns samples into PIL
    /// images (DDPMPipeline `__call__`: `(image / 2 + 0.5).clamp(0, 1)`, then
    /// utils/pil_utils.py `numpy_to_pil`: `(images * 255).round().astype("uint8")`):
    /// in Float32, v = clamp(x / 2 + 0.5, 0, 1), then v · 255 rounded to nearest, ties to even
    /// (NumPy's `round`; so 0.5·255 = 127.5 → 128 but a value landing on 2.5 → 2). This differs from
    /// `(x + 1) * 127.5` rounded half-up only at ties and in the last bit of the Float32 products.
    /// NaN maps to 0 (NumPy's cast of NaN to uint8 is undefined); ±∞ clip to 0 and 255.
    @inlinable
    public static func pixelValue(fromModelSpace x: Float) -> UInt8 {
        let v = x / 2 + 0.5
        guard !v.isNaN else { return 0 }
        return UInt8((min(max(v, 0), 1) * 255).rounded(.toNearestOrEven))
    }

    /// A value in [0, 1] as an 8-bit value, as diffusers' `numpy_to_pil` maps `output_type="np"`
    /// images: clamp to [0, 1], × 255 in Float32, round half to even; NaN maps to 0.
    @inlinable
    public static func pixelValue(fromUnitRange v: Float) -> UInt8 {
        guard !v.isNaN else { return 0 }
        return UInt8((min(max(v, 0), 1) * 255).rounded(.toNearestOrEven))
    }

    /// An image from planar model-space values (CHW, channel-major, in [−1, 1]), mapped by
    /// `pixelValue(fromModelSpace:)` and interleaved into HWC pixels.
    public static func fromModelSpace(_ values: ArraySlice<Float>, channels: Int, height: Int, width: Int) -> Image8 {
        precondition(channels == 1 || channels == 3, "fromModelSpace: channels must be 1 or 3, not \(channels)")
        let plane = height * width
        precondition(height >= 0 && width >= 0 && values.count == channels * plane,
                     "fromModelSpace: \(channels)×\(height)×\(width) needs \(channels * plane) values, got \(values.count)")
        var pixels = [UInt8](repeating: 0, count: channels * plane)
        values.withUnsafeBufferPointer { source in
            for c in 0..<channels {
                for i in 0..<plane {
                    pixels[i * channels + c] = pixelValue(fromModelSpace: source[c * plane + i])
                }
            }
        }
        return Image8(width: width, height: height, channels: channels, pixels: pixels)
    }

    public static func fromModelSpace(_ values: [Float], channels: Int, height: Int, width: Int) -> Image8 {
        fromModelSpace(values[...], channels: channels, height: height, width: width)
    }

    /// Tiles equally sized images row by row, left to right, with `padding` pixels of `background`
    /// around and between them: the layout of torchvision `make_grid(nrow: columns, padding:,
    /// pad_value:)`, that is (columns · (w + padding) + padding) × (rows · (h + padding) + padding).
    /// `columns` defaults to ⌈√n⌉ and is capped at n.
    public static func grid(_ images: [Image8], columns: Int? = nil, padding: Int = 2, background: UInt8 = 0) -> Image8 {
        guard let first = images.first else { preconditionFailure("grid: no images") }
        precondition(images.allSatisfy { $0.width == first.width && $0.height == first.height && $0.channels == first.channels },
                     "grid: images differ in size or channels")
        precondition(padding >= 0, "grid: negative padding")
        var defaultColumns = 1
        while defaultColumns * defaultColumns < images.count { defaultColumns += 1 }
        let columns = min(columns ?? defaultColumns, images.count)
        precondition(columns > 0, "grid: columns must be positive")
        let rows = (images.count + columns - 1) / columns

        let (w, h, c) = (first.width, first.height, first.channels)
        let width = columns * (w + padding) + padding
        let height = rows * (h + padding) + padding
        var pixels = [UInt8](repeating: background, count: width * height * c)
        for (index, image) in images.enumerated() {
            let left = padding + (index % columns) * (w + padding)
            let top = padding + (index / columns) * (h + padding)
            for y in 0..<h {
                let destination = ((top + y) * width + left) * c
                pixels.replaceSubrange(destination ..< destination + w * c,
                                       with: image.pixels[y * w * c ..< (y + 1) * w * c])
            }
        }
        return Image8(width: width, height: height, channels: c, pixels: pixels)
    }
}
