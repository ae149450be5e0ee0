// <linux/kvm.h> gives Swift the kernel's own structures (kvm_run,
// kvm_regs, kvm_sregs, ...), so no offset is copied by hand. Its ioctl
// request numbers are function-like macros (_IOW...) that Swift cannot
// import; they are restated here as constants evaluated by the C
// compiler from those same macros. Nothing else lives in C.
#include <linux/kvm.h>

static const unsigned long NOVABOX_KVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long NOVABOX_KVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long NOVABOX_KVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long NOVABOX_KVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long NOVABOX_KVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long NOVABOX_KVM_GET_DIRTY_LOG = KVM_GET_DIRTY_LOG;
static const unsigned long NOVABOX_KVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long NOVABOX_KVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long NOVABOX_KVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long NOVABOX_KVM_RUN = KVM_RUN;
static const unsigned long NOVABOX_KVM_GET_REGS = KVM_GET_REGS;
static const unsigned long NOVABOX_KVM_SET_REGS = KVM_SET_REGS;
static const unsigned long NOVABOX_KVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long NOVABOX_KVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long NOVABOX_KVM_GET_XSAVE = KVM_GET_XSAVE;
static const unsigned long NOVABOX_KVM_SET_XSAVE = KVM_SET_XSAVE;
static const unsigned long NOVABOX_KVM_GET_MSRS = KVM_GET_MSRS;
static const unsigned long NOVABOX_KVM_SET_MSRS = KVM_SET_MSRS;
static const unsigned long NOVABOX_KVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long NOVABOX_KVM_INTERRUPT = KVM_INTERRUPT;
static const unsigned long NOVABOX_KVM_GET_VCPU_EVENTS = KVM_GET_VCPU_EVENTS;
static const unsigned long NOVABOX_KVM_SET_VCPU_EVENTS = KVM_SET_VCPU_EVENTS;
static const unsigned long NOVABOX_KVM_GET_DEBUGREGS = KVM_GET_DEBUGREGS;
static const unsigned long NOVABOX_KVM_SET_DEBUGREGS = KVM_SET_DEBUGREGS;

// The vCPU's deadline timer is aimed at one thread (SIGEV_THREAD_ID),
// named by its kernel thread id; glibc (2.30 on) has gettid but declares
// it only under _GNU_SOURCE.
#include <sys/types.h>
extern pid_t gettid(void);
