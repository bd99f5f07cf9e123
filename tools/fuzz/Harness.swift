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
    #else
    #error("build with -D FUZZ_PNG, FUZZ_NPY, FUZZ_NPZ, FUZZ_IDX, FUZZ_SAFETENSORS, FUZZ_UNET_CONFIG, FUZZ_SAMPLER_SPEC or FUZZ_SWEEP_JSON")
    #endif
    return 0
}
