// libFuzzer entry points for skipstep's parsers (issue 22). Built by tools/fuzz/run.sh, which
// compiles this file together with the parser sources into one module and selects the target
// with -D FUZZ_<TARGET>. Not part of the package build.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    #if FUZZ_PNG
    // Chunk CRCs rewritten, so mutations reach IHDR, inflate and the row filters.
    var bytes = [UInt8](data), offset = 8
    while offset + 12 <= bytes.count {
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard length <= bytes.count - offset - 12 else { break }
        let crc = Checksum.crc32([Data(bytes[(offset + 4)..<(offset + 8 + length)])])
        for k in 0..<4 { bytes[offset + 8 + length + k] = UInt8(truncatingIfNeeded: crc >> UInt32(24 - 8 * k)) }
        offset += 12 + length
    }
    if let image = try? Image8.decodePNG(Data(bytes), path: "fuzz.png") {
        precondition(image.pixels.count == image.width * image.height * image.channels)
    }
    #elseif FUZZ_NPY
    _ = try? NPYArray.decode(data, path: "fuzz.npy")
    _ = try? NPYDoubleArray.decode(data, path: "fuzz.npy")
    #elseif FUZZ_NPZ
    if let archive = try? NPZArchive.decode(data, path: "fuzz.npz") {
        for key in archive.members.keys { _ = try? archive.doubleArray(key, path: "fuzz.npz") }
    }
    #elseif FUZZ_IDX
    let url = URL(fileURLWithPath: "/dev/shm/skipstep-libfuzzer-\(getpid()).idx")
    try? data.write(to: url)
    _ = try? IDXArray.read(from: url)
    #elseif FUZZ_SAFETENSORS
    if let file = try? SafeTensorsFile(bytes: data, path: "fuzz.safetensors") {
        for name in file.tensorNames {
            _ = try? file.rawBytes(name)
            _ = try? file.floatsConverting(name)
        }
    }
    #elseif FUZZ_UNET_CONFIG
    if let config = try? ConfigFile.decode(UNet2DConfig.self, from: data, path: "fuzz/config.json", what: "UNet2DModel") {
        _ = try? config.validate(path: "fuzz/config.json")
    }
    #elseif FUZZ_SAMPLER_SPEC
    // The first byte picks the step count; the rest is the spec text. A parsed spec must print as
    // text that parses back to itself, and binding it to a schedule may fail only by throwing.
    guard let first = data.first else { return 0 }
    let text = String(decoding: data.dropFirst(), as: UTF8.self)
    if let spec = try? SamplerSpec(parsing: text) {
        let reparsed = try? SamplerSpec(parsing: spec.description)
        precondition(reparsed == spec, "'\(text)' prints as '\(spec)', which does not parse back to it")
        if let schedule = try? NoiseSchedule(.linear()) {
            _ = try? spec.makeSampler(steps: Int(first % 64), schedule: schedule)
        }
    }
    #elseif FUZZ_SWEEP_JSON
    if let spec = try? JSONDecoder().decode(SweepSpec.self, from: data), (try? spec.validate()) != nil {
        _ = try? spec.metricSuite()
        let encoded = try? JSONEncoder().encode(spec)
        precondition(encoded.flatMap { try? JSONDecoder().decode(SweepSpec.self, from: $0) } == spec,
                     "a valid sweep.json does not round-trip")
    }
    #elseif FUZZ_SCHEDULER_CONFIG
    // DiffusersFolder.load's path for a scheduler config (decode, validate into the sampler
    // defaults, the Float64 schedule, DDIM's final ᾱ), then txt2img's (the scheduler's own spacing
    // and default sampler), each bound to the schedule as `sample --model DIR` binds its spec. The
    // first byte picks the step count.
    let path = "fuzz/scheduler/scheduler_config.json"
    guard let config = try? ConfigFile.decode(SchedulerConfig.self, from: data, path: path, what: "scheduler"),
          var defaults = try? config.samplerOptions(path: path),
          let schedule = try? config.schedule(path: path) else { return 0 }
    precondition(schedule.alphasCumprod.count == config.numTrainTimesteps
                 && schedule.alphasCumprod.dropLast().allSatisfy { $0 > 0 && $0 < 1 }, "a schedule with ᾱ outside (0, 1)")
    defaults.ddimFinalAlphaBar = config.ddimFinalAlphaBar(schedule)
    let prediction = PredictionType(rawValue: config.predictionType) ?? .epsilon
    let spacing = (try? config.spacing(path: path)) ?? .uniform
    var specs = [SamplerSpec(.skip), SamplerSpec(.ddpm), SamplerSpec(.ddim(eta: 0))]
    if let (spec, _) = try? config.defaultSampler(path: path) { specs.append(spec) }
    let steps = Int(data.first.map { $0 % 64 } ?? 10)
    for spec in specs {
        for n in [1, steps] {
            _ = try? spec.makeSampler(steps: n, schedule: schedule, defaults: defaults, predictionType: prediction,
                                      learnsVariance: defaults.varianceType == .learnedRange, defaultSpacing: spacing)
        }
    }
    #elseif FUZZ_MODEL_INDEX
    // A pipeline folder whose model_index.json is the input and whose component folders exist:
    // read as `--model DIR` reads an unconditional pipeline and as txt2img reads a Stable
    // Diffusion one.
    // An empty file is left out: Foundation's Data(contentsOf:) leaks its 4 KB read buffer on an
    // empty file, which LeakSanitizer would report on every run (the replay tests read it).
    guard !data.isEmpty else { return 0 }
    let directory = URL(fileURLWithPath: "/dev/shm/skipstep-libfuzzer-index-\(getpid())")
    let index = directory.appendingPathComponent("model_index.json")
    if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("unet/config.json").path) {
        for folder in ["unet", "scheduler", "vae", "text_encoder", "tokenizer"] {
            try? FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try? Data("{}".utf8).write(to: directory.appendingPathComponent("unet/config.json"))
        try? Data("{}".utf8).write(to: directory.appendingPathComponent("scheduler/scheduler_config.json"))
    }
    try? data.write(to: index)
    _ = try? UNet2DPipelineIndex.check(index, directory: directory)
    if let sd = try? StableDiffusionIndex(contentsOf: index) {
        precondition(StableDiffusionIndex.pipelineClasses.contains(sd.pipelineClass)
                     && StableDiffusionIndex.components.allSatisfy { sd.classes[$0.folder] != nil }, "an incomplete index accepted")
    }
    #elseif FUZZ_SWEEP_CHUNK
    // chunk-0-3.json and chunk-0-3.npy of a cell whose model samples 1 × 2 × 2: the input is the
    // .json, a NUL byte, the .npy. Read as a resumed sweep reads them before scoring the cell.
    // Empty files are left out (Foundation's Data(contentsOf:) leaks on them; see FUZZ_MODEL_INDEX).
    guard let split = data.firstIndex(of: 0), split > data.startIndex, split + 1 < data.endIndex else { return 0 }
    let directory = "/dev/shm/skipstep-libfuzzer-chunk-\(getpid())"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let time = URL(fileURLWithPath: directory + "/chunk-0-3.json"), samples = URL(fileURLWithPath: directory + "/chunk-0-3.npy")
    try? data[..<split].write(to: time)
    try? data[(split + 1)...].write(to: samples)
    if let chunk = try? SweepChunk.read(samples: samples, time: time, count: 3, sampleShape: [1, 2, 2]) {
        precondition(chunk.values.count == 3 * 4 && chunk.seconds.isFinite && chunk.seconds >= 0, "a bad chunk accepted")
    }
    #elseif FUZZ_GMM_FILE
    guard !data.isEmpty else { return 0 }  // see FUZZ_MODEL_INDEX
    let url = URL(fileURLWithPath: "/dev/shm/skipstep-libfuzzer-\(getpid()).safetensors")
    try? data.write(to: url)
    if let mixture = try? GaussianMixture.load(from: url) {
        let d = mixture.dimension
        precondition(mixture.components.allSatisfy { $0.mean.count == d && $0.covariance.count == d * d }, "a misshaped mixture")
    }
    #elseif FUZZ_CLIP_TOKENIZER
    // The first byte picks the file of the small tokenizer folder (written by run.sh under
    // .build/fuzz/clip-tokenizer-files) that the rest replaces, or (4) makes the rest a prompt.
    // A tokenizer that loads must encode every text to exactly maxLength ids, and decode them.
    guard let first = data.first else { return 0 }
    let names = ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"]
    let original = URL(fileURLWithPath: ".build/fuzz/clip-tokenizer-files")
    let directory = URL(fileURLWithPath: "/dev/shm/skipstep-libfuzzer-clip-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for name in names {
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        try? FileManager.default.copyItem(at: original.appendingPathComponent(name), to: directory.appendingPathComponent(name))
    }
    var texts = ["a photograph of an astronaut riding a horse!", "<|endoftext|> ΟΔΟΣ café 東京 👩‍💻 it's"]
    let rest = data.dropFirst()
    if Int(first % 5) < names.count {
        // Empty files are left out (Foundation's Data(contentsOf:) leaks on them; see FUZZ_MODEL_INDEX).
        guard !rest.isEmpty else { return 0 }
        try? rest.write(to: directory.appendingPathComponent(names[Int(first % 5)]))
    } else {
        texts = [String(decoding: rest, as: UTF8.self)]
    }
    if let tokenizer = try? CLIPTokenizer(directory: directory) {
        for text in texts {
            let ids = tokenizer.encode(text).ids
            precondition(ids.count == tokenizer.maxLength, "\(ids.count) ids, not maxLength \(tokenizer.maxLength)")
            _ = tokenizer.decode(ids)
        }
    }
    #else
    #error("build with -D FUZZ_<TARGET> (tools/fuzz/run.sh lists the targets)")
    #endif
    return 0
}
