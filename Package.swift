// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "skipstep",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "skipstep", targets: ["skipstep"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Models", targets: ["Models"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target Diffusion` (DocC); a plugin only, nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .target(name: "Files", dependencies: ["CZlib"]),
        .target(name: "Diffusion"),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Media", dependencies: ["Files", "CZlib", "CCairo", "CTurboJPEG"]),
        .target(name: "Metrics", dependencies: ["Tensor"]),
        .target(name: "Models", dependencies: ["Diffusion", "Tensor", "Metrics", "Files"]),
        .target(name: "Sweep", dependencies: ["Diffusion", "Media", "Metrics", "Files"]),
        .executableTarget(name: "skipstep", dependencies: [
            "Diffusion", "Models", "Media", "Tensor", "Metrics", "Sweep", "Files",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "skipstep-example", dependencies: ["Diffusion", "Models", "Media"], path: "Examples/SampleMix"),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "InceptionFixture", dependencies: ["Models", "Diffusion", "TestSupport"], path: "Tests/InceptionFixture"),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Diffusion", "Tensor", "Media", "TestSupport", "InceptionFixture"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "Files", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TestSupport"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "Models", "Diffusion", "Media", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["skipstep", "Diffusion", "Models", "Media", "TestSupport", "InceptionFixture"]),
    ],
    swiftLanguageModes: [.v6]
)
