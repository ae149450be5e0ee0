import Glibc
import HWAccel

/// KVM's start-up self-tests (KVMSelfTest), for every kind of paged state,
/// run on a thread of their own from the moment the machine is built, so
/// that they cost the guest nothing before its first instruction.
///
/// They take a few tens of milliseconds (their timed loops and I/O round
/// trips, longer where KVM only emulates), which is why they are off the
/// start-up path. The machine asks for the verdicts only
/// where it needs them: when it settles the CPUID identity (the guest's
/// first CPUID or EFER access) and at the first hand-over offer. The first
/// question waits for the thread; joining it also publishes its results
/// to the machine's thread, so no lock is needed.
final class KVMAssessment {
    private final class Findings {
        var results: [PagingKind: KVMSelfTestResult] = [:]
    }

    private let findings = Findings()
    private var thread: pthread_t?
    /// `-d switch`: the results are logged when first asked for.
    private var trace: TraceLog?

    init(system: KVMSystem, trace: TraceLog?) {
        self.trace = trace
        let findings = self.findings
        let work = Unmanaged.passRetained(Work {
            let interpreterRate = KVMSelfTest.measureInterpreter()
            for kind in PagingKind.allCases {
                findings.results[kind] = KVMSelfTest.run(kind, system: system, interpreterRate: interpreterRate)
            }
        }).toOpaque()
        var tid = pthread_t()
        if pthread_create(&tid, nil, { box in
            Unmanaged<Work>.fromOpaque(box!).takeRetainedValue().body()
            return nil
        }, work) == 0 {
            thread = tid
        } else {
            // No thread to be had: test here and now.
            Unmanaged<Work>.fromOpaque(work).takeRetainedValue().body()
        }
    }

    private final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// The self-test result for each kind; the first call waits for the tests.
    var results: [PagingKind: KVMSelfTestResult] {
        finish()
        return findings.results
    }

    private func finish() {
        if let tid = thread {
            pthread_join(tid, nil)
            thread = nil
        }
        if let trace {
            for kind in PagingKind.allCases { trace.log("kvm self-test: \(findings.results[kind]!.summary)") }
            self.trace = nil
        }
    }

    /// A machine dropped before it asked still lets its tests end (their VM
    /// and memory go with them) rather than leave a thread behind.
    deinit {
        if let tid = thread { pthread_join(tid, nil) }
    }
}
