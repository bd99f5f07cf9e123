import CBLAS
import Foundation
import Tensor

/// Float32 buffers reused across forward passes: the same shapes recur every call, so after the
/// first call a forward pass allocates nothing but small bookkeeping objects.
final class BufferPool {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let pointer = free[count]?.popLast() { return pointer }
        return .allocate(capacity: max(count, 1))
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        free[count, default: []].append(pointer)
    }

    /// Frees every idle buffer (when the shapes change, e.g. a run's last, smaller batch).
    func drain() {
        for pointers in free.values { for pointer in pointers { pointer.deallocate() } }
        free = [:]
    }

    deinit {
        for pointers in free.values { for pointer in pointers { pointer.deallocate() } }
    }
}

/// One activation in the engine's channel-major layout, [C][B][H][W]; returns its memory to the
/// pool when the last reference goes.
final class Activation {
    let pool: BufferPool
    let data: UnsafeMutablePointer<Float>
    let channels: Int, batch: Int, height: Int, width: Int
    var count: Int { channels * batch * height * width }
    var spatial: Int { height * width }

    init(_ pool: BufferPool, channels: Int, batch: Int, height: Int, width: Int) {
        self.pool = pool
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
        data = pool.take(channels * batch * height * width)
    }

    /// A new activation of this one's batch with other dimensions.
    func like(channels: Int? = nil, height: Int? = nil, width: Int? = nil) -> Activation {
        Activation(pool, channels: channels ?? self.channels, batch: batch,
                   height: height ?? self.height, width: width ?? self.width)
    }

    deinit { pool.give(data, count: count) }
}

/// Per-forward state shared by the layers: the pool, GEMM scratch, and the SiLU of the time
/// embedding ([B, T] row-major) that every resnet projects.
final class ForwardContext {
    let pool: BufferPool
    var scratch: [Float] = []
    var attentionScratch: [Float] = []
    var timeEmbedding: [Float] = []
    var batch = 0
    /// Floating-point operations of the GEMM-shaped work (2 per multiply-add: convs, projections,
    /// attention products), counted as the forward pass runs.
    var flops = 0

    init(pool: BufferPool) { self.pool = pool }

    /// Starts a forward pass of `batch` samples; buffers of another batch size are freed first.
    func begin(batch: Int) {
        if self.batch != batch { pool.drain() }
        self.batch = batch
        flops = 0
    }
}

/// Loads weights by an explicit key table: every key the config implies must exist with the
/// expected shape and finite values, and `finish()` rejects keys nothing used.
struct WeightReader {
    let file: SafeTensorsFile
    private(set) var used: Set<String> = []
    /// Old diffusers attention names (checkpoints saved before 0.15), read as their new names.
    static let deprecatedAttentionNames = ["to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"]

    init(file: SafeTensorsFile) { self.file = file }

    mutating func take(_ key: String, _ shape: [Int]) throws -> [Float] {
        var name = key
        if file.tensors[key] == nil, let old = Self.deprecatedName(key), file.tensors[old] != nil { name = old }
        guard let info = file.tensors[name] else {
            throw UNetLoadError.missingWeight(path: file.path, key: key, shape: shape)
        }
        // Deprecated attention projections were stored as [out, in] linears; both layouts hold the same numbers.
        guard info.shape == shape || (info.shape.reduce(1, *) == shape.reduce(1, *) && name != key) else {
            throw UNetLoadError.shapeMismatch(path: file.path, key: key, expected: shape, actual: info.shape)
        }
        let values = try file.floatsConverting(name)
        guard values.allSatisfy(\.isFinite) else { throw UNetLoadError.nonFiniteWeight(path: file.path, key: name) }
        used.insert(name)
        return values
    }

    static func deprecatedName(_ key: String) -> String? {
        for (new, old) in deprecatedAttentionNames where key.contains(".\(new).") {
            return key.replacingOccurrences(of: ".\(new).", with: ".\(old).")
        }
        return nil
    }

    func finish() throws {
        let unused = file.tensorNames.filter { !used.contains($0) }.sorted()
        guard unused.isEmpty else { throw UNetLoadError.unusedWeights(path: file.path, keys: unused) }
    }
}

/// A convolution whose weights are prepared once at load (Winograd-transformed for 3×3 stride 1).
struct Conv2D {
    let prepared: Kernels.PreparedConv2d
    let bias: [Float]?
    let inChannels: Int, outChannels: Int

    init(_ w: inout WeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: Int, stride: Int = 1, padding: Kernels.Padding, bias: Bool = true) throws {
        let weight = try w.take(prefix + ".weight", [outChannels, inChannels, kernel, kernel])
        prepared = weight.withUnsafeBufferPointer {
            Kernels.PreparedConv2d(weight: $0.baseAddress!, outChannels: outChannels, inChannels: inChannels,
                                   kernel: kernel, stride: stride, padding: padding)
        }
        self.bias = bias ? try w.take(prefix + ".bias", [outChannels]) : nil
        self.inChannels = inChannels
        self.outChannels = outChannels
    }

    init(_ w: inout WeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: Int, stride: Int = 1, padding: Int, bias: Bool = true) throws {
        try self.init(&w, prefix, in: inChannels, out: outChannels, kernel: kernel, stride: stride,
                      padding: .uniform(padding), bias: bias)
    }

    func callAsFunction(_ x: Activation, _ ctx: ForwardContext) -> Activation {
        precondition(x.channels == inChannels)
        let (oh, ow) = prepared.outputSize(height: x.height, width: x.width)
        let y = x.like(channels: outChannels, height: oh, width: ow)
        ctx.flops += 2 * outChannels * inChannels * prepared.kernelHeight * prepared.kernelWidth * oh * ow * x.batch
        withOptionalPointer(bias) { b in
            Kernels.conv2d(input: x.data, batch: x.batch, height: x.height, width: x.width, prepared: prepared,
                           bias: b, output: y.data, scratch: &ctx.scratch)
        }
        return y
    }
}

struct GroupNorm {
    let gamma: [Float], beta: [Float], groups: Int, eps: Float

    init(_ w: inout WeightReader, _ prefix: String, channels: Int, groups: Int, eps: Double) throws {
        gamma = try w.take(prefix + ".weight", [channels])
        beta = try w.take(prefix + ".bias", [channels])
        guard groups > 0, channels % groups == 0 else {
            throw UNetLoadError.invalidConfig(path: w.file.path,
                                              reason: "\(prefix): \(channels) channels are not divisible into \(groups) groups")
        }
        self.groups = groups
        self.eps = Float(eps)
    }

    /// GroupNorm (then SiLU when `silu`) into a new activation, or in place when `inPlace`.
    func callAsFunction(_ x: Activation, silu: Bool, inPlace: Bool = false) -> Activation {
        let y = inPlace ? x : x.like()
        Kernels.groupNorm(input: x.data, channels: x.channels, batch: x.batch, spatial: x.spatial, groups: groups,
                          eps: eps, gamma: gamma, beta: beta, silu: silu, output: y.data)
        return y
    }
}

/// A linear layer on rows ([B, in] row-major → [B, out]), for the small time-embedding path.
struct RowLinear {
    let weight: [Float], bias: [Float], inFeatures: Int, outFeatures: Int

    init(_ w: inout WeightReader, _ prefix: String, in inFeatures: Int, out outFeatures: Int) throws {
        weight = try w.take(prefix + ".weight", [outFeatures, inFeatures])
        bias = try w.take(prefix + ".bias", [outFeatures])
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows { for o in 0..<outFeatures { y[r * outFeatures + o] = bias[o] } }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
                    1, x, Int32(inFeatures), weight, Int32(inFeatures), 1, &y, Int32(outFeatures))
        return y
    }
}

func silu(_ values: [Float]) -> [Float] { values.map { $0 / (1 + exp(-$0)) } }

func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
