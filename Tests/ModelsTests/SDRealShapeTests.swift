import Foundation
import Models
import Testing
import TestSupport

/// Stable Diffusion 2.1's real UNet and VAE shapes with random weights (written at run time by
/// `python tools/make_sd_real_shapes.py DIR`, ~2 GB, not committed): strict loading of the
/// base and 768 configs and parity with diffusers at latent 16, plus the time per UNet call next
/// to PyTorch's (2 threads). Enabled by SKIPSTEP_SD_REAL=1, folder SKIPSTEP_SD_REAL_DIR
/// (default /tmp/skipstep-sd-real); run in release: `swift test -c release -Xswiftc -enable-testing --filter SDRealShapeTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SKIPSTEP_SD_REAL"] == "1"), .serialized)
struct SDRealShapeTests {
    struct Goldens: Decodable {
        var timings: [String: Double]
        var cases: [Case]
    }
    struct Case: Decodable {
        var name: String; var batch: Int; var height: Int; var width: Int
        var timesteps: [Double]?; var sequence_length: Int?
        var input: SDFixtures.Blob?; var context: SDFixtures.Blob?; var latents: SDFixtures.Blob?; var output: SDFixtures.Blob
    }

    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SKIPSTEP_SD_REAL_DIR"] ?? "/tmp/skipstep-sd-real")

    static func goldens() throws -> (Goldens, Data) {
        (try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: directory.appendingPathComponent("goldens.json"))),
         try Data(contentsOf: directory.appendingPathComponent("goldens.bin")))
    }

    static func median(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        for _ in 0..<3 {
            let start = Date()
            try body()
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[1]
    }

    @Test(arguments: ["unet_base", "unet_768"])
    func unetMatchesDiffusers(folder: String) throws {
        let (goldens, data) = try Self.goldens()
        let c = try #require(goldens.cases.first { $0.name == "unet_latent16" })
        let model = try UNet2DConditionModel(directory: Self.directory.appendingPathComponent(folder), variant: nil)
        #expect(model.parameterCount == 865_910_724)
        let text = SDFixtures.floats(data, c.context!)
        let output = try model(SDFixtures.floats(data, c.input!), batch: 2, height: 16, width: 16, timesteps: c.timesteps!,
                               encoderHiddenStates: text, sequenceLength: 77)
        let error = relativeL2(output, SDFixtures.floats(data, c.output))
        #expect(error <= 1e-4, "\(folder): relative L2 \(error)")
        print("SD real shapes \(folder): relative L2 vs diffusers \(error), \(model.lastForwardFLOPs) FLOP at latent 16 batch 2")
        guard folder == "unet_base" else { return }
        for side in [16, 32] {
            let x = [Float](repeating: 0.1, count: 2 * 4 * side * side)
            let seconds = try Self.median {
                _ = try model(x, batch: 2, height: side, width: side, timesteps: [999, 1], encoderHiddenStates: text,
                              sequenceLength: 77)
            }
            let torch = goldens.timings["unet_latent\(side)_batch2_s"] ?? .nan
            print(String(format: "SD 2.1 UNet latent %d batch 2: skipstep %.2f s (%.1f GFLOP/s), PyTorch 2 threads %.2f s, ratio %.2f×",
                         side, seconds, Double(model.lastForwardFLOPs) / seconds / 1e9, torch, torch / seconds))
        }
    }

    @Test func vaeDecoderMatchesDiffusers() throws {
        let (goldens, data) = try Self.goldens()
        let c = try #require(goldens.cases.first { $0.name == "vae_latent16" })
        let decoder = try AutoencoderKLDecoder(directory: Self.directory.appendingPathComponent("vae"), variant: nil)
        #expect(decoder.scaleFactor == 8)
        var image: [Float] = []
        let start = Date()
        image = try decoder.decode(SDFixtures.floats(data, c.latents!), batch: 2, height: 16, width: 16)
        let seconds = Date().timeIntervalSince(start)
        let error = relativeL2(image, SDFixtures.floats(data, c.output))
        #expect(error <= 1e-4, "VAE decoder: relative L2 \(error)")
        print(String(format: "SD VAE decoder latent 16 batch 2: relative L2 %.3g, skipstep %.2f s, PyTorch 2 threads %.2f s",
                     error, seconds, goldens.timings["vae_latent16_batch2_s"] ?? .nan))
    }
}
