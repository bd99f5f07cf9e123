import Tensor

/// guided-diffusion @22e0df8 `unet.py` `UNetModel.__init__` as data: which module sits under which
/// key prefix with which sizes, derived from an `ADMConfig` without touching any weights. `ADMUNet`
/// binds its layers from this layout, and `weightTable` lists the `state_dict` it reads (keys in
/// guided-diffusion's order, shapes, parameter count), so the key/shape table of a released
/// 550 M-parameter configuration can be checked without allocating it
/// (Tests/ModelsTests/ADMManifestTests.swift, manifests from tools/make_adm_manifests.py).
public struct ADMLayout: Sendable, Equatable {
    /// One module of the network, under its key prefix.
    public enum Module: Sendable, Equatable {
        /// `conv_nd(2, in, out, kernel, padding=kernel/2)`.
        case conv(prefix: String, in: Int, out: Int, kernel: Int)
        /// `ResBlock` (`in_layers`, `emb_layers`, `out_layers`, a 1×1 `skip_connection` when the
        /// channel count changes); `up`/`down` with `resblock_updown`.
        case resBlock(prefix: String, in: Int, out: Int, resample: ResnetBlock2D.Resample)
        /// `AttentionBlock` (`norm`, the packed `qkv`, `proj_out`) with its head count.
        case attention(prefix: String, channels: Int, heads: Int)
        /// `Downsample(use_conv=True)`: the stride-2 3×3 conv `op`.
        case downsample(prefix: String, channels: Int)
        /// `Upsample(use_conv=True)`: nearest ×2, then the 3×3 `conv`.
        case upsample(prefix: String, channels: Int)
    }

    /// `model_channels`.
    public let modelChannels: Int
    /// The time embedding's width, 4 × `model_channels`.
    public let timeChannels: Int
    /// `label_emb`'s rows for a class-conditional model, else nil.
    public let classCount: Int?
    /// The channels of the first level (`input_blocks.0`'s output and `out`'s input).
    public let firstLevelChannels: Int
    /// `use_scale_shift_norm`: `emb_layers` project to 2 × out channels (scale and shift).
    public let scaleShift: Bool
    /// `out.2`'s channels: 6 with learn_sigma, else 3.
    public let outChannels: Int
    /// Resolution levels (`len(channel_mult)`); H and W must be divisible by 2^(levels − 1).
    public let levels: Int
    /// `input_blocks`, each block a `TimestepEmbedSequential` of modules; every block's output is a skip.
    public let inputBlocks: [[Module]]
    /// `middle_block`: ResBlock, AttentionBlock, ResBlock.
    public let middleBlock: [Module]
    /// `output_blocks`, each fed `[h, skip]` concatenated.
    public let outputBlocks: [[Module]]

    /// The layout `UNetModel` builds from the config's flags; an invalid config is named with `path`.
    public init(config c: ADMConfig, path: String) throws {
        try c.validate(path: path)
        let mult = try c.resolvedChannelMult(path: path)
        let attentionFactors = try c.attentionDownsampleFactors(path: path)
        let mc = c.numChannels
        modelChannels = mc
        timeChannels = 4 * mc
        classCount = c.classCount
        outChannels = c.outChannels
        scaleShift = c.useScaleShiftNorm
        levels = mult.count
        let headsUpsample = c.numHeadsUpsample == -1 ? c.numHeads : c.numHeadsUpsample
        func attention(_ prefix: String, _ channels: Int, heads: Int) throws -> Module {
            guard c.numHeadChannels != -1 else { return .attention(prefix: prefix, channels: channels, heads: heads) }
            guard channels % c.numHeadChannels == 0 else {
                throw UNetLoadError.invalidConfig(path: path, reason: "\(prefix): \(channels) channels are not a multiple "
                                                  + "of num_head_channels \(c.numHeadChannels)")
            }
            return .attention(prefix: prefix, channels: channels, heads: channels / c.numHeadChannels)
        }

        var ch = Int(mult[0] * Double(mc))
        firstLevelChannels = ch
        var inputs: [[Module]] = [[.conv(prefix: "input_blocks.0.0", in: 3, out: ch, kernel: 3)]]
        var skipChannels = [ch]
        var ds = 1
        for (level, m) in mult.enumerated() {
            for _ in 0..<c.numResBlocks {
                let p = "input_blocks.\(inputs.count)", out = Int(m * Double(mc))
                var block: [Module] = [.resBlock(prefix: p + ".0", in: ch, out: out, resample: .none)]
                ch = out
                if attentionFactors.contains(ds) { block.append(try attention(p + ".1", ch, heads: c.numHeads)) }
                inputs.append(block)
                skipChannels.append(ch)
            }
            if level != mult.count - 1 {
                let p = "input_blocks.\(inputs.count).0"
                inputs.append([c.resblockUpdown ? .resBlock(prefix: p, in: ch, out: ch, resample: .down)
                               : .downsample(prefix: p, channels: ch)])
                skipChannels.append(ch)
                ds *= 2
            }
        }
        inputBlocks = inputs
        middleBlock = [.resBlock(prefix: "middle_block.0", in: ch, out: ch, resample: .none),
                       try attention("middle_block.1", ch, heads: c.numHeads),
                       .resBlock(prefix: "middle_block.2", in: ch, out: ch, resample: .none)]
        var outputs: [[Module]] = []
        for (level, m) in mult.enumerated().reversed() {
            for i in 0...c.numResBlocks {
                let p = "output_blocks.\(outputs.count)", out = Int(m * Double(mc))
                var block: [Module] = [.resBlock(prefix: p + ".0", in: ch + skipChannels.removeLast(), out: out, resample: .none)]
                ch = out
                if attentionFactors.contains(ds) { block.append(try attention(p + ".1", ch, heads: headsUpsample)) }
                if level > 0 && i == c.numResBlocks {
                    let q = "\(p).\(block.count)"
                    block.append(c.resblockUpdown ? .resBlock(prefix: q, in: ch, out: ch, resample: .up)
                                 : .upsample(prefix: q, channels: ch))
                    ds /= 2
                }
                outputs.append(block)
            }
        }
        outputBlocks = outputs
    }

    /// The `state_dict` of the network, in guided-diffusion's order: `time_embed`, `label_emb`,
    /// `input_blocks`, `middle_block`, `output_blocks`, `out`; within a module in the order its
    /// `__init__` creates the layers.
    public var weightTable: [(key: String, shape: [Int])] {
        var table: [(key: String, shape: [Int])] = []
        func add(_ prefix: String, weight: [Int], bias: Bool = true) {
            table.append((prefix + ".weight", weight))
            if bias { table.append((prefix + ".bias", [weight[0]])) }
        }
        add("time_embed.0", weight: [timeChannels, modelChannels])
        add("time_embed.2", weight: [timeChannels, timeChannels])
        if let classCount { add("label_emb", weight: [classCount, timeChannels], bias: false) }
        let names = ResnetBlock2D.Names.guidedDiffusion
        for module in inputBlocks.joined() + middleBlock + outputBlocks.joined() {
            switch module {
            case let .conv(prefix, i, o, k): add(prefix, weight: [o, i, k, k])
            case let .resBlock(prefix, i, o, _):
                add("\(prefix).\(names.norm1)", weight: [i])
                add("\(prefix).\(names.conv1)", weight: [o, i, 3, 3])
                add("\(prefix).\(names.timeProjection)", weight: [scaleShift ? 2 * o : o, timeChannels])
                add("\(prefix).\(names.norm2)", weight: [o])
                add("\(prefix).\(names.conv2)", weight: [o, o, 3, 3])
                if i != o { add("\(prefix).\(names.shortcut)", weight: [o, i, 1, 1]) }
            case let .attention(prefix, c, _):
                add(prefix + ".norm", weight: [c])
                add(prefix + ".qkv", weight: [3 * c, c, 1])
                add(prefix + ".proj_out", weight: [c, c, 1])
            case let .downsample(prefix, c): add(prefix + ".op", weight: [c, c, 3, 3])
            case let .upsample(prefix, c): add(prefix + ".conv", weight: [c, c, 3, 3])
            }
        }
        add("out.0", weight: [firstLevelChannels])
        add("out.2", weight: [outChannels, firstLevelChannels, 3, 3])
        return table
    }

    /// The number of weights (the sum of `weightTable`'s element counts).
    public var parameterCount: Int { weightTable.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}
