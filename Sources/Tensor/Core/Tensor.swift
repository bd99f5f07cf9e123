/// Float32 buffers reused across forward passes: the same shapes recur every call, so after the
/// first call a forward pass allocates nothing but small bookkeeping objects.
///
/// Not thread-safe: one pool belongs to one model (or one caller) and is used under its lock.
public final class BufferPool: @unchecked Sendable {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]

    public init() {}

    /// A buffer of `count` floats (contents undefined), reused when one of that size is idle.
    public func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let pointer = free[count]?.popLast() { return pointer }
        return .allocate(capacity: max(count, 1))
    }

    /// Returns a buffer obtained from `take(count)`.
    public func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        free[count, default: []].append(pointer)
    }

    /// Frees every idle buffer (when the shapes change, e.g. a run's last, smaller batch).
    public func drain() {
        for pointers in free.values { for pointer in pointers { pointer.deallocate() } }
        free = [:]
    }

    deinit { drain() }
}

/// The memory behind a `Tensor`: a pooled buffer given back to its pool when the last tensor
/// that shares it goes.
final class TensorStorage {
    let pool: BufferPool
    let data: UnsafeMutablePointer<Float>
    let count: Int

    init(pool: BufferPool, count: Int) {
        self.pool = pool
        self.count = count
        data = pool.take(count)
    }

    deinit { pool.give(data, count: count) }
}

/// A Float32 tensor in the engine's **channel-major** layout: shape `[C, B, H, W]` stored as
/// `[C][B][H][W]` contiguous (CNHW). Dimension 0 is the feature (channel) axis, dimension 1 the
/// batch, and the rest positions: an image activation is `[C, B, H, W]`, a token sequence
/// (PyTorch's `[B, T, D]`) is `[D, B, 1, T]`, a batch of vectors (`[B, D]`) is `[D, B, 1, 1]`.
///
/// Why this layout: every convolution, linear layer and attention projection is then one GEMM
/// `W[out × in] · X[in × (B·H·W)]` writing its output in place, and concatenation along
/// channels (or splitting GEGLU's projection in two) is contiguous blocks.
///
/// A `Tensor` is a value holding a shared buffer from a `BufferPool`: copies share the numbers
/// (layers write their outputs into new tensors and never mutate an input unless their
/// documentation says so), and the buffer returns to the pool when the last copy goes.
/// Storage is always Float32; Float16 and BFloat16 data are decoded on the way in
/// (`init(decoding:...)`, `DType`).
public struct Tensor {
    public let channels: Int
    public let batch: Int
    public let height: Int
    public let width: Int
    let storage: TensorStorage

    /// A new tensor of shape `[channels, batch, height, width]` (contents undefined).
    public init(_ pool: BufferPool, channels: Int, batch: Int, height: Int = 1, width: Int = 1) {
        precondition(channels >= 0 && batch >= 0 && height >= 0 && width >= 0, "negative dimension")
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
        storage = TensorStorage(pool: pool, count: channels * batch * height * width)
    }

    /// A token sequence `[features, batch, 1, tokens]` (contents undefined).
    public init(_ pool: BufferPool, features: Int, batch: Int, tokens: Int) {
        self.init(pool, channels: features, batch: batch, height: 1, width: tokens)
    }

    /// The shape `[C, B, H, W]`.
    public var shape: [Int] { [channels, batch, height, width] }
    /// Number of elements.
    public var count: Int { channels * batch * height * width }
    /// Positions per batch item (`H·W`, or the token count).
    public var spatial: Int { height * width }
    /// Columns of the `[C][B·H·W]` matrix the layers multiply.
    public var columns: Int { batch * height * width }
    /// The first element.
    public var data: UnsafeMutablePointer<Float> { storage.data }
    /// The pool the buffer came from (new tensors of a forward pass use the same one).
    public var pool: BufferPool { storage.pool }

    /// The first element of channel `channel` (channel blocks are contiguous, `B·H·W` long).
    public func channelSlice(_ channel: Int) -> UnsafeMutablePointer<Float> {
        precondition(channel >= 0 && channel <= channels, "channel \(channel) of \(channels)")
        return data + channel * columns
    }

    /// A new tensor of this one's batch (and pool) with other dimensions.
    public func like(channels: Int? = nil, height: Int? = nil, width: Int? = nil) -> Tensor {
        Tensor(pool, channels: channels ?? self.channels, batch: batch, height: height ?? self.height,
               width: width ?? self.width)
    }

    /// A new tensor with the same shape and numbers.
    public func copy() -> Tensor {
        let y = like()
        y.data.update(from: data, count: count)
        return y
    }

    /// The same numbers seen with another split of each batch item's positions (`height·width`
    /// must equal `spatial`), sharing the storage.
    public func reshaped(height: Int, width: Int) -> Tensor {
        precondition(height * width == spatial, "\(height)×\(width) is not \(spatial) positions")
        return Tensor(storage: storage, channels: channels, batch: batch, height: height, width: width)
    }

    private init(storage: TensorStorage, channels: Int, batch: Int, height: Int, width: Int) {
        self.storage = storage
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
    }

    /// The elements in storage order (`[C][B][H][W]`).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    // MARK: - PyTorch layouts in and out

    /// From PyTorch's NCHW (`values` = `[B][C][H][W]` row-major).
    public init(_ pool: BufferPool, nchw values: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int) {
        self.init(pool, channels: channels, batch: batch, height: height, width: width)
        Kernels.nchwToCNHW(values, channels: channels, batch: batch, spatial: height * width, output: data)
    }

    /// From PyTorch's NCHW array.
    public init(_ pool: BufferPool, nchw values: [Float], batch: Int, channels: Int, height: Int, width: Int) {
        precondition(values.count == batch * channels * height * width, "\(values.count) values for \(batch)×\(channels)×\(height)×\(width)")
        self = values.withUnsafeBufferPointer {
            Tensor(pool, nchw: $0.baseAddress!, batch: batch, channels: channels, height: height, width: width)
        }
    }

    /// From PyTorch's row-major `[B, T, D]` sequence layout (`[B, D]` vectors: `tokens` 1).
    public init(_ pool: BufferPool, sequence values: [Float], batch: Int, tokens: Int, features: Int) {
        precondition(values.count == batch * tokens * features, "\(values.count) values for \(batch)×\(tokens)×\(features)")
        self.init(pool, features: features, batch: batch, tokens: tokens)
        let rows = batch * tokens, y = data
        values.withUnsafeBufferPointer { x in
            for r in 0..<rows { for d in 0..<features { y[d * rows + r] = x[r * features + d] } }
        }
    }

    /// PyTorch's `torch.flatten(x, 1)`: `[C, B, H, W]` → `[C·H·W, B, 1, 1]`, feature
    /// `c·H·W + h·W + w` of each batch item, new.
    public func flattened() -> Tensor {
        let y = Tensor(pool, channels: channels * spatial, batch: batch)
        let plane = spatial, n = batch, x = data, out = y.data
        for c in 0..<channels {
            for b in 0..<n {
                let src = x + (c * n + b) * plane
                for s in 0..<plane { out[(c * plane + s) * n + b] = src[s] }
            }
        }
        return y
    }

    /// The numbers in PyTorch's NCHW order.
    public func nchw() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            Kernels.cnhwToNCHW(data, channels: channels, batch: batch, spatial: spatial, output: buffer.baseAddress!)
            initialized = count
        }
    }

    /// The numbers in PyTorch's row-major `[B, T, D]` order (`T` = H·W positions): the
    /// transpose of the `[D][B·T]` matrix. For `[B, D]` vectors (`T` = 1) this is `[B][D]`.
    public func sequence() -> [Float] {
        let rows = columns, features = channels, x = data
        return [Float](unsafeUninitializedCapacity: count) { y, initialized in
            for d in 0..<features { for r in 0..<rows { y[r * features + d] = x[d * rows + r] } }
            initialized = count
        }
    }
}

extension Tensor {
    /// Decodes `count` stored values of type `dtype` (little-endian) into a new tensor of the given
    /// shape: the Float16 / BFloat16 storage path (compute stays Float32).
    public init(_ pool: BufferPool, decoding bytes: UnsafeRawBufferPointer, dtype: DType,
                channels: Int, batch: Int, height: Int = 1, width: Int = 1) {
        self.init(pool, channels: channels, batch: batch, height: height, width: width)
        precondition(bytes.count == count * dtype.byteSize, "\(bytes.count) bytes for \(count) \(dtype) values")
        dtype.decode(bytes, into: UnsafeMutableBufferPointer(start: data, count: count))
    }
}

/// Storage element types the engine reads; all compute is Float32.
public enum DType: String, Sendable, CaseIterable {
    case f32, f16, bf16

    public var byteSize: Int { self == .f32 ? 4 : 2 }

    /// Converts little-endian stored values to Float32 (exact for all three: F16 and BF16 values
    /// are all representable).
    public func decode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(bytes.count == output.count * byteSize, "\(bytes.count) bytes for \(output.count) \(self) values")
        for i in 0..<output.count {
            switch self {
            case .f32:
                output[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .f16:
                output[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            case .bf16:
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                output[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }
}
