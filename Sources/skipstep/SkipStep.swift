import ArgumentParser
import Tensor

@main
enum Main {
    static func main() async {
        EngineSetup.configure()
        await SkipStep.mainReportingRunErrors()
    }
}

extension SkipStep {
    /// The release; `skipstep --version` prints it.
    static let version = "0.2.0"

    /// `main()`, except that a `ValidationError` thrown while a command runs (a file, a model, a
    /// value found wrong after parsing) is printed without the usage line, which only helps with
    /// mistakes in the command line itself.
    static func mainReportingRunErrors() async {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            exit(withError: RunError(error.message))
        } catch {
            exit(withError: error)
        }
    }
}

struct SkipStep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skipstep",
        abstract: "Sample pretrained diffusion models with skipped-step, Mix, DDIM, DDPM and DPM-Solver++.",
        discussion: """
            Skipped-step sampling (arXiv 2508.15233) jumps from x_t to x_{t-m} in one Markovian step with \
            the model's unchanged noise predictor; Mix runs it while t ≥ t_c and DDIM below t_c.
            Timesteps are model indices 0…T−1 (the paper's t is index + 1).
            """,
        version: SkipStep.version,
        subcommands: [SampleCommand.self, ScheduleCommand.self, BenchCommand.self, EvalCommand.self, SweepCommand.self, TuneCommand.self,
                      PlotCommand.self, Txt2ImgCommand.self, ForwardCommand.self])
}
