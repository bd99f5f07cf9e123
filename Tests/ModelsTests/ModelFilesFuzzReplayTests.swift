import Diffusion
import Foundation
@testable import Models
import Testing
import TestSupport

/// Replays the libFuzzer corpora of scheduler_config.json, model_index.json and the Gaussian
/// mixture file (tools/fuzz/run.sh scheduler-config, model-index, gmm-file; committed under
/// Tests/Fixtures/fuzz/TARGET/) without the fuzzer, through the harness's code path and with its
/// checks: every file loads (and then holds what its readers promise) or is refused by an error
/// that names the file. Files named `crash-*` are the crashers the fuzzer found; each must now
/// be refused.
@Suite struct ModelFilesFuzzReplayTests {
    static let schedulerPath = "fuzz/scheduler/scheduler_config.json"

    /// tools/fuzz/Harness.swift FUZZ_SCHEDULER_CONFIG: decode, sampler defaults, schedule, DDIM's
    /// final ᾱ, and the scheduler's own and skipstep's samplers bound to the schedule.
    static func replayScheduler(_ data: Data) throws {
        let config = try ConfigFile.decode(SchedulerConfig.self, from: data, path: schedulerPath, what: "scheduler")
        var defaults = try config.samplerOptions(path: schedulerPath)
        let schedule = try config.schedule(path: schedulerPath)
        #expect(schedule.alphasCumprod.count == config.numTrainTimesteps)
        #expect(schedule.alphasCumprod.dropLast().allSatisfy { $0 > 0 && $0 < 1 })
        defaults.ddimFinalAlphaBar = config.ddimFinalAlphaBar(schedule)
        let prediction = PredictionType(rawValue: config.predictionType) ?? .epsilon
        let spacing = (try? config.spacing(path: schedulerPath)) ?? .uniform
        var specs = [SamplerSpec(.skip), SamplerSpec(.ddpm), SamplerSpec(.ddim(eta: 0))]
        if let (spec, _) = try? config.defaultSampler(path: schedulerPath) { specs.append(spec) }
        let steps = Int(data.first.map { $0 % 64 } ?? 10)
        for spec in specs {
            for n in [1, steps] {
                // A sampler may refuse the step count or the spacing; it must not trap.
                _ = try? spec.makeSampler(steps: n, schedule: schedule, defaults: defaults, predictionType: prediction,
                                          learnsVariance: defaults.varianceType == .learnedRange, defaultSpacing: spacing)
            }
        }
    }

    @Test func schedulerConfigCorpus() {
        let corpus = fuzzCorpus("scheduler-config")
        #expect(corpus.count > 20)
        var loaded = 0
        for (name, data) in corpus {
            do {
                try Self.replayScheduler(data)
                loaded += 1
                #expect(!name.hasPrefix("crash-"), "\(name): the crasher loads")
            } catch {
                // The schedule's own errors come wrapped with the path by schedule(path:).
                #expect(namedErrorProblem(error, Self.schedulerPath) == nil, "\(name)")
            }
        }
        #expect(loaded > 5)
    }

    /// The crasher: four trained betas for two training steps, which sampled a four-step schedule
    /// where diffusers spaces its timesteps over two.
    @Test func trainedBetasMustMatchTheTrainingSteps() throws {
        let data = try Data(contentsOf: Fixtures.url("fuzz/scheduler-config/crash-trained-betas-count"))
        #expect {
            try Self.replayScheduler(data)
        } throws: { error in
            let message = (error as? any LocalizedError)?.errorDescription ?? ""
            return message.contains(Self.schedulerPath) && message.contains("trained_betas = 4 values")
                && message.contains("num_train_timesteps = 2")
        }
    }

    /// A pipeline folder whose component folders exist, with `data` as its model_index.json, read
    /// as `--model DIR` (UNet2DPipelineIndex) and txt2img (StableDiffusionIndex) read it.
    @Test func modelIndexCorpus() throws {
        let corpus = fuzzCorpus("model-index")
        #expect(corpus.count > 20)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for folder in ["unet", "scheduler", "vae", "text_encoder", "tokenizer"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Data("{}".utf8).write(to: directory.appendingPathComponent("unet/config.json"))
        try Data("{}".utf8).write(to: directory.appendingPathComponent("scheduler/scheduler_config.json"))
        let index = directory.appendingPathComponent("model_index.json")
        var unconditional = 0, stableDiffusion = 0
        for (name, data) in corpus + [("empty", Data())] {
            try data.write(to: index)
            do {
                try UNet2DPipelineIndex.check(index, directory: directory)
                unconditional += 1
            } catch {
                #expect(namedErrorProblem(error, directory.path) == nil, "\(name)")
            }
            do {
                let sd = try StableDiffusionIndex(contentsOf: index)
                stableDiffusion += 1
                #expect(StableDiffusionIndex.pipelineClasses.contains(sd.pipelineClass), "\(name)")
                #expect(StableDiffusionIndex.components.allSatisfy { sd.classes[$0.folder] != nil }, "\(name)")
            } catch {
                #expect(namedErrorProblem(error, index.path) == nil, "\(name)")
            }
        }
        #expect(unconditional > 0 && stableDiffusion > 0)
    }

    @Test func gaussianMixtureFileCorpus() throws {
        let seeds = fuzzCorpus("gmm-file-seeds")
        let corpus = fuzzCorpus("gmm-file")
        #expect(seeds.count == 3 && corpus.count > 20)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("fuzz.safetensors")
        // The seeds (tools/fuzz/make_seeds.py) are valid files, the checksummed one included.
        for (name, data) in seeds {
            try data.write(to: url)
            #expect(throws: Never.self, "\(name)") { try GaussianMixture.load(from: url) }
        }
        var loaded = 0
        for (name, data) in corpus + [("empty", Data())] {
            try data.write(to: url)
            do {
                let mixture = try GaussianMixture.load(from: url)
                loaded += 1
                let d = mixture.dimension
                #expect(mixture.components.allSatisfy { $0.mean.count == d && $0.covariance.count == d * d }, "\(name)")
            } catch {
                #expect(namedErrorProblem(error, url.path) == nil, "\(name)")
            }
        }
        #expect(loaded > 0)
    }
}

/// Replays the libFuzzer corpus of the CLIP tokenizer (tools/fuzz/run.sh clip-tokenizer,
/// Tests/Fixtures/fuzz/clip-tokenizer/): the first byte picks the file of the small tokenizer
/// folder (`CLIPFuzzTests.smallTokenizerFiles`) that the rest replaces, or (4) makes the rest a
/// prompt for the intact folder. A tokenizer that loads encodes each text to `maxLength` ids.
@Suite struct CLIPTokenizerFuzzReplayTests {
    @Test func replayCorpus() throws {
        let corpus = fuzzCorpus("clip-tokenizer")
        #expect(corpus.count > 20)
        let files = try CLIPFuzzTests.smallTokenizerFiles()
        let names = ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"]
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var loaded = 0
        for (name, data) in corpus {
            guard let first = data.first else { continue }
            for file in names { try files[file]?.write(to: directory.appendingPathComponent(file)) }
            var texts = ["a photograph of an astronaut riding a horse!", "<|endoftext|> ΟΔΟΣ café 東京 👩‍💻 it's"]
            let target = Int(first % 5) < names.count ? directory.appendingPathComponent(names[Int(first % 5)]) : nil
            if let target { try data.dropFirst().write(to: target) } else { texts = [String(decoding: data.dropFirst(), as: UTF8.self)] }
            do {
                let tokenizer = try CLIPTokenizer(directory: directory)
                loaded += 1
                for text in texts { #expect(tokenizer.encode(text).ids.count == tokenizer.maxLength, "\(name)") }
            } catch {
                #expect(namedErrorProblem(error, target?.path ?? directory.path) == nil, "\(name)")
            }
        }
        #expect(loaded > 0)
    }
}
