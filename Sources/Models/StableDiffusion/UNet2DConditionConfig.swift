import Foundation

/// diffusers `UNet2DConditionModel`'s `config.json` (Stable Diffusion 1.x / 2.x), with diffusers
/// 0.42's defaults for every missing key (models/unets/unet_2d_condition.py `__init__`). Keys
/// that may be an integer or a per-block list are stored as per-block lists. Options skipstep does
/// not implement are refused by name in `validate(path:)`, never ignored.
public struct UNet2DConditionConfig: Decodable, Sendable, Equatable {
    public var sampleSize: [Int]?
    public var inChannels = 4
    public var outChannels = 4
    public var centerInputSample = false
    public var flipSinToCos = true
    public var freqShift = 0.0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    /// `only_cross_attention` per block (only `false` is supported).
    public var onlyCrossAttention: [Bool]?
    public var blockOutChannels = [320, 640, 1280, 1280]
    /// Per down block (an integer in the file means the same for every block).
    public var layersPerBlock: [Int]?
    public var downsamplePadding = 1
    public var midBlockScaleFactor = 1.0
    public var actFn = "silu"
    public var normNumGroups: Int? = 32
    public var normEps = 1e-5
    /// Per down block.
    public var crossAttentionDim: [Int]?
    /// Per down block.
    public var transformerLayersPerBlock: [Int]?
    /// Per down block; with `num_attention_heads` absent this is the number of heads (the SD quirk).
    public var attentionHeadDim: [Int]?
    public var numAttentionHeads: JSONText?
    public var useLinearProjection = false
    public var upcastAttention = false
    public var resnetTimeScaleShift = "default"
    public var resnetOutScaleFactor = 1.0
    public var timeEmbeddingType = "positional"
    public var timeEmbeddingDim: Int?
    public var convInKernel = 3
    public var convOutKernel = 3
    public var attentionType = "default"
    public var className: String?
    /// Options whose every non-default value is refused, with the value the file holds (nil: absent or default).
    public var refusedOptions: [String: String] = [:]

    /// A config value quoted for messages.
    public struct JSONText: Sendable, Equatable { public var text: String }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn", normNumGroups = "norm_num_groups"
        case normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", useLinearProjection = "use_linear_projection"
        case upcastAttention = "upcast_attention", resnetTimeScaleShift = "resnet_time_scale_shift"
        case resnetOutScaleFactor = "resnet_out_scale_factor", timeEmbeddingType = "time_embedding_type"
        case timeEmbeddingDim = "time_embedding_dim", convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case attentionType = "attention_type", className = "_class_name"
    }

    /// Keys of options skipstep does not implement, each with the value that means "off" in
    /// diffusers (nil: absent or null is off). Any other value is refused by name.
    static let offOnlyOptions: [(key: String, off: String?)] = [
        ("class_embed_type", nil), ("num_class_embeds", nil), ("addition_embed_type", nil),
        ("addition_time_embed_dim", nil), ("projection_class_embeddings_input_dim", nil),
        ("encoder_hid_dim", nil), ("encoder_hid_dim_type", nil), ("time_cond_proj_dim", nil),
        ("time_embedding_act_fn", nil), ("timestep_post_act", nil), ("reverse_transformer_layers_per_block", nil),
        ("mid_block_only_cross_attention", nil), ("cross_attention_norm", nil),
        ("dual_cross_attention", "false"), ("class_embeddings_concat", "false"), ("resnet_skip_time_act", "false"),
    ]

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.configValue(T.self, forKey: key) ?? fallback
        }
        func optional<T: Decodable>(_ key: CodingKeys, _ fallback: T?) throws -> T? {
            guard c.contains(key) else { return fallback }
            return try c.configValue(T.self, forKey: key)
        }
        /// An integer (every block) or a list of integers; nil when absent or null.
        func perBlock<T: Decodable>(_ key: CodingKeys, _: T.Type) throws -> [T]? {
            guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
            if let single = try? c.decode(T.self, forKey: key) { return [single] }
            if let list = try? c.decode([T].self, forKey: key) { return list }
            throw ConfigValueError(key: key.rawValue, expected: "\(expectedJSONType(T.self)) or a list of them, one per block",
                                   found: (try? c.decode(JSONValue.self, forKey: key))?.description ?? "?")
        }
        if let size = try perBlock(.sampleSize, Int.self) {
            guard size.count <= 2 else {
                throw ConfigValueError(key: CodingKeys.sampleSize.rawValue, expected: "an integer or [height, width]",
                                       found: "\(size)")
            }
            sampleSize = size.count == 1 ? [size[0], size[0]] : size
        }
        inChannels = try value(.inChannels, inChannels)
        outChannels = try value(.outChannels, outChannels)
        centerInputSample = try value(.centerInputSample, centerInputSample)
        flipSinToCos = try value(.flipSinToCos, flipSinToCos)
        freqShift = try value(.freqShift, freqShift)
        downBlockTypes = try value(.downBlockTypes, downBlockTypes)
        midBlockType = try optional(.midBlockType, midBlockType)
        upBlockTypes = try value(.upBlockTypes, upBlockTypes)
        onlyCrossAttention = try perBlock(.onlyCrossAttention, Bool.self)
        blockOutChannels = try value(.blockOutChannels, blockOutChannels)
        layersPerBlock = try perBlock(.layersPerBlock, Int.self)
        downsamplePadding = try value(.downsamplePadding, downsamplePadding)
        midBlockScaleFactor = try value(.midBlockScaleFactor, midBlockScaleFactor)
        actFn = try value(.actFn, actFn)
        normNumGroups = try optional(.normNumGroups, normNumGroups)
        normEps = try value(.normEps, normEps)
        crossAttentionDim = try perBlock(.crossAttentionDim, Int.self)
        if c.contains(.transformerLayersPerBlock), (try? c.decode([[Int]].self, forKey: .transformerLayersPerBlock)) != nil,
           (try? c.decode([Int].self, forKey: .transformerLayersPerBlock)) == nil {
            refusedOptions["transformer_layers_per_block"] = "a list of lists (asymmetric UNets, SDXL refiner style)"
        } else {
            transformerLayersPerBlock = try perBlock(.transformerLayersPerBlock, Int.self)
        }
        attentionHeadDim = try perBlock(.attentionHeadDim, Int.self)
        if c.contains(.numAttentionHeads), try !c.decodeNil(forKey: .numAttentionHeads) {
            numAttentionHeads = JSONText(text: (try? c.decode(JSONValue.self, forKey: .numAttentionHeads))?.description ?? "?")
        }
        useLinearProjection = try value(.useLinearProjection, useLinearProjection)
        upcastAttention = try value(.upcastAttention, upcastAttention)
        resnetTimeScaleShift = try value(.resnetTimeScaleShift, resnetTimeScaleShift)
        resnetOutScaleFactor = try value(.resnetOutScaleFactor, resnetOutScaleFactor)
        timeEmbeddingType = try value(.timeEmbeddingType, timeEmbeddingType)
        timeEmbeddingDim = try optional(.timeEmbeddingDim, nil)
        convInKernel = try value(.convInKernel, convInKernel)
        convOutKernel = try value(.convOutKernel, convOutKernel)
        attentionType = try value(.attentionType, attentionType)
        className = try c.configValue(String.self, forKey: .className)

        let all = try decoder.container(keyedBy: AnyKey.self)
        for (key, off) in Self.offOnlyOptions {
            let k = AnyKey(stringValue: key)
            guard all.contains(k) else { continue }
            let found = (try? all.decode(JSONValue.self, forKey: k))?.description ?? "?"
            if found == "null" || found == off { continue }
            refusedOptions[key] = found
        }
    }

    /// Limits on sizes read from a config, far above any real Stable Diffusion UNet (SDXL: 2048
    /// cross-attention features, 10 transformer layers, 1280 channels) and low enough that every
    /// size product fits in `Int`.
    public static let maxChannels = 65_536
    public static let maxLayers = 64
    public static let maxLevels = 12
    public static let maxSampleSize = 16_384

    /// Resolved per-block settings (after `validate`).
    public var levels: Int { blockOutChannels.count }
    public func layers(_ block: Int) -> Int { Self.pick(layersPerBlock ?? [2], block) }
    public func transformerLayers(_ block: Int) -> Int { Self.pick(transformerLayersPerBlock ?? [1], block) }
    public func crossDim(_ block: Int) -> Int { Self.pick(crossAttentionDim ?? [1280], block) }
    /// diffusers' `num_attention_heads or attention_head_dim`: heads per block.
    public func heads(_ block: Int) -> Int { Self.pick(attentionHeadDim ?? [8], block) }
    static func pick<T>(_ list: [T], _ block: Int) -> T { list.count == 1 ? list[0] : list[block] }

    /// Refuses, by name, every option this engine does not implement, and values out of range.
    public func validate(path: String) throws {
        func refuse(_ key: String, _ value: String, _ supported: String) -> UNetLoadError {
            .unsupportedOption(path: path, key: key, value: value, supported: supported)
        }
        if let className, className != "UNet2DConditionModel" {
            throw refuse("_class_name", className, "UNet2DConditionModel")
        }
        if let (key, value) = refusedOptions.sorted(by: { $0.key < $1.key }).first {
            throw refuse(key, value, key == "transformer_layers_per_block" ? "an integer or a list of integers"
                         : "absent, null or false (Stable Diffusion 1.x/2.x UNets)")
        }
        if let numAttentionHeads {
            // diffusers 0.42 raises here too (unet_2d_condition.py, diffusers issue 2011).
            throw refuse("num_attention_heads", numAttentionHeads.text, "null (diffusers itself refuses it; give the heads as attention_head_dim)")
        }
        guard timeEmbeddingType == "positional" else { throw refuse("time_embedding_type", timeEmbeddingType, "positional") }
        guard actFn == "silu" || actFn == "swish" else { throw refuse("act_fn", actFn, "silu") }
        guard resnetTimeScaleShift == "default" else { throw refuse("resnet_time_scale_shift", resnetTimeScaleShift, "default") }
        guard attentionType == "default" else { throw refuse("attention_type", attentionType, "default") }
        if let midBlockType, midBlockType != "UNetMidBlock2DCrossAttn" {
            throw refuse("mid_block_type", midBlockType, "UNetMidBlock2DCrossAttn")
        }
        if midBlockType == nil { throw refuse("mid_block_type", "null", "UNetMidBlock2DCrossAttn") }
        for type in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(type) {
            throw refuse("down_block_types", type, "CrossAttnDownBlock2D, DownBlock2D")
        }
        for type in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(type) {
            throw refuse("up_block_types", type, "CrossAttnUpBlock2D, UpBlock2D")
        }
        if let onlyCrossAttention, onlyCrossAttention.contains(true) {
            throw refuse("only_cross_attention", "\(onlyCrossAttention)", "false")
        }
        if let crossAttentionDim, Set(crossAttentionDim).count > 1 {
            throw refuse("cross_attention_dim", "\(crossAttentionDim)", "one width for every block (one text encoder's states)")
        }
        if resnetOutScaleFactor != 1 { throw refuse("resnet_out_scale_factor", "\(resnetOutScaleFactor)", "1.0") }
        if midBlockScaleFactor != 1 { throw refuse("mid_block_scale_factor", "\(midBlockScaleFactor)", "1") }
        guard normNumGroups != nil else { throw refuse("norm_num_groups", "null", "an integer") }
        try validateValues(path: path)
    }

    func validateValues(path: String) throws {
        func invalid(_ key: CodingKeys, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key.rawValue, value: "\(value)", expected: expected)
        }
        let n = blockOutChannels.count
        guard n >= 1, n <= Self.maxLevels, downBlockTypes.count == n, upBlockTypes.count == n else {
            throw UNetLoadError.invalidConfig(path: path, reason: "block_out_channels (\(n)), down_block_types "
                + "(\(downBlockTypes.count)) and up_block_types (\(upBlockTypes.count)) must have the same length, 1...\(Self.maxLevels)")
        }
        let channelRange = 1...Self.maxChannels
        for (key, value) in [(CodingKeys.inChannels, inChannels), (.outChannels, outChannels)] where !channelRange.contains(value) {
            throw invalid(key, value, "an integer in 1...\(Self.maxChannels)")
        }
        guard blockOutChannels.allSatisfy(channelRange.contains) else {
            throw invalid(.blockOutChannels, blockOutChannels, "integers in 1...\(Self.maxChannels)")
        }
        func checkList(_ key: CodingKeys, _ list: [Int]?, _ range: ClosedRange<Int>) throws {
            guard let list else { return }
            guard list.count == 1 || list.count == n else {
                throw invalid(key, list, "one integer or a list of \(n) (one per down block)")
            }
            guard list.allSatisfy(range.contains) else { throw invalid(key, list, "integers in \(range)") }
        }
        try checkList(.layersPerBlock, layersPerBlock, 1...Self.maxLayers)
        try checkList(.transformerLayersPerBlock, transformerLayersPerBlock, 1...Self.maxLayers)
        try checkList(.crossAttentionDim, crossAttentionDim, channelRange)
        try checkList(.attentionHeadDim, attentionHeadDim, channelRange)
        if let onlyCrossAttention, onlyCrossAttention.count != 1 && onlyCrossAttention.count != n {
            throw invalid(.onlyCrossAttention, onlyCrossAttention, "true/false or a list of \(n)")
        }
        let groups = normNumGroups ?? 32
        guard channelRange.contains(groups), blockOutChannels.allSatisfy({ $0 % groups == 0 }) else {
            throw invalid(.normNumGroups, groups, "a positive integer that divides every block's channels \(blockOutChannels)")
        }
        // Attention heads: channels // heads in diffusers; skipstep asks for an exact split.
        for i in 0..<n {
            let blocks = [(downBlockTypes[i], blockOutChannels[i], heads(i)),
                          (upBlockTypes[n - 1 - i], blockOutChannels[i], heads(i))]
            for (type, channels, h) in blocks where type.hasPrefix("CrossAttn") && channels % h != 0 {
                throw invalid(.attentionHeadDim, attentionHeadDim ?? [8],
                              "head counts that divide their blocks' channels (\(channels) channels, \(h) heads)")
            }
        }
        if blockOutChannels[n - 1] % heads(n - 1) != 0 {
            throw invalid(.attentionHeadDim, attentionHeadDim ?? [8],
                          "head counts that divide their blocks' channels (mid block: \(blockOutChannels[n - 1]) channels, \(heads(n - 1)) heads)")
        }
        if let timeEmbeddingDim, !(1...(4 * Self.maxChannels)).contains(timeEmbeddingDim) {
            throw invalid(.timeEmbeddingDim, timeEmbeddingDim, "null or an integer in 1...\(4 * Self.maxChannels)")
        }
        guard Float(normEps) > 0, Float(normEps).isFinite else {
            throw invalid(.normEps, normEps, "a number > 0 that Float32 can hold, e.g. 1e-5")
        }
        let half = blockOutChannels[0] / 2
        guard blockOutChannels[0] >= 2, freqShift.isFinite, Float(half) - Float(freqShift) > 0 else {
            throw invalid(.freqShift, freqShift, "a number below half the first block's channels (\(half)), usually 0 or 1")
        }
        guard (0...1).contains(downsamplePadding) else {
            throw invalid(.downsamplePadding, downsamplePadding, "0 or 1 (others change the feature map sizes)")
        }
        for (key, kernel) in [(CodingKeys.convInKernel, convInKernel), (.convOutKernel, convOutKernel)]
        where !(kernel >= 1 && kernel <= 15 && kernel % 2 == 1) {
            throw invalid(key, kernel, "an odd integer in 1...15 (3 in Stable Diffusion)")
        }
        if let sampleSize, !sampleSize.allSatisfy({ (1...Self.maxSampleSize).contains($0) }) {
            throw invalid(.sampleSize, sampleSize, "sizes in 1...\(Self.maxSampleSize)")
        }
    }
}
