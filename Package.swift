// swift-tools-version:6.1
import PackageDescription

// Module layout and dependency direction: see DESIGN.md.
// MMU is the bottom layer (guest physical memory, paging); CPU and Devices
// build on it and know nothing of each other; Machine assembles a PC;
// Frontend is the `novabox` command; Console holds the window's pieces
// that need no window (key codes, PNG, geometry) so they can be tested.
// Release builds: unchecked arithmetic and whole-module optimization for
// the interpreter's hot paths; testable, so the one release build serves
// both `novabox` and the test suites (whole-machine tests need release).
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo", "-enable-testing"], .when(configuration: .release))]
// The interpreter's instruction handlers are mostly leaf functions of a
// dozen or two instructions, one call per guest instruction: a frame
// pointer there costs three of them. Non-leaf functions keep theirs, so
// profilers still walk the stack.
let interpreterOptimize = optimize + [.unsafeFlags(["-Xcc", "-momit-leaf-frame-pointer"], .when(configuration: .release))]

let package = Package(
    name: "Novabox",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "novabox", targets: ["Frontend"]),
    ],
    targets: [
        .target(name: "MMU", swiftSettings: optimize),
        .systemLibrary(name: "CHostFlags"),
        .target(name: "CPU", dependencies: ["MMU", "CHostFlags"], swiftSettings: interpreterOptimize),
        .target(name: "Devices", dependencies: ["MMU"], swiftSettings: optimize),
        .systemLibrary(name: "CKVM"),
        .target(name: "HWAccel", dependencies: ["CKVM", "CPU", "MMU"], swiftSettings: optimize),
        .target(name: "Recompiler", dependencies: ["CPU", "MMU"], swiftSettings: optimize),
        .target(name: "Machine", dependencies: ["CPU", "MMU", "Devices", "HWAccel", "Recompiler"], swiftSettings: optimize),
        .target(name: "Debugger", dependencies: ["Machine", "CPU", "MMU", "Devices", "Console", "Recompiler"], swiftSettings: optimize),
        .systemLibrary(name: "CSDL2", pkgConfig: "sdl2", providers: [.apt(["libsdl2-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Console", dependencies: ["CZlib", "Devices"], swiftSettings: optimize),
        .executableTarget(name: "Frontend", dependencies: ["Machine", "CPU", "Devices", "Debugger", "Console", "CSDL2"],
                          swiftSettings: optimize),
        .executableTarget(name: "novabox-bench", dependencies: ["Machine", "CPU", "MMU", "Recompiler", "Debugger"],
                          path: "Benchmarks/InterpreterBenchmark", swiftSettings: optimize),
        .executableTarget(name: "novabox-display-bench", dependencies: ["Machine", "Devices", "MMU"],
                          path: "Benchmarks/DisplayBenchmark", swiftSettings: optimize),
        .target(name: "CPUBenchmarkGuest", path: "Benchmarks/CPUGuest", exclude: ["cpu-benchmark.asm"], swiftSettings: optimize),
        .executableTarget(name: "novabox-boot-bench", dependencies: ["Machine", "HWAccel", "CPUBenchmarkGuest"],
                          path: "Benchmarks/BootBenchmark", swiftSettings: optimize),

        .testTarget(name: "MMUTests", dependencies: ["MMU"]),
        .target(name: "GuestPrograms", dependencies: ["CPU"], path: "Tests/GuestPrograms"),
        .testTarget(name: "CPUTests", dependencies: ["CPU", "MMU", "GuestPrograms"]),
        .testTarget(name: "RecompilerTests", dependencies: ["Recompiler", "CPU", "MMU", "GuestPrograms"]),
        .testTarget(name: "DevicesTests", dependencies: ["Devices", "MMU"]),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "CPU", "Devices", "MMU", "CPUBenchmarkGuest"], exclude: ["Guests"]),
        .testTarget(name: "DebuggerTests", dependencies: ["Debugger", "Machine", "CPU", "MMU"]),
        .testTarget(name: "HWAccelTests", dependencies: ["HWAccel", "CKVM", "CPU", "MMU"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "Devices"]),
    ],
    swiftLanguageModes: [.v5]
)
