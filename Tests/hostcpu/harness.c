/*
 * Host-CPU reference harness for Novabox's differential tests.
 *
 * The x86-64 host runs 32-bit code natively, so the real processor is the
 * reference for what user-mode (CPL 3) instructions do. This program is
 * built by the Swift test at run time (gcc -m32 -nostdlib -static
 * -ffreestanding -fno-pic -O1) and talks to it through stdin/stdout:
 *
 *   stdin:  a stream of test cases (struct case_in, then the code bytes,
 *           then the memory patches);
 *   stdout: a header (struct harness_header), then one struct case_out per
 *           case followed by the list of bytes of the data region that
 *           changed.
 *
 * For each case the harness fills the data region (fixed address, below
 * 64 KiB so 16-bit addressing reaches it) from a seed shared with the Swift
 * side, applies the patches, copies the code to the code page followed by a
 * JMP back, loads the x87 state (FXRSTOR), EFLAGS (POPFD) and all eight
 * general registers, and jumps to the code. On return it stores every
 * register, EFLAGS, the segment selectors and the x87 state (FXSAVE).
 * A fault in the code (SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP) is caught on
 * an alternate signal stack; the handler records the vector (the kernel's
 * trap number), the error code, the faulting EIP and the registers and x87
 * state at the fault from the signal frame, then resumes the harness.
 *
 * No libc: raw `int $0x80` system calls only, so nothing but the test code
 * touches the processor state between load and capture.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define CODE_BASE 0x6000u      /* one 4 KiB page, executable */
#define DATA_BASE 0x2000u      /* the data region the tests read and write */
#define DATA_SIZE 0x2000u
#define FPU_IMAGE 160          /* bytes of the FXSAVE image exchanged */

#define SYS_exit 1
#define SYS_read 3
#define SYS_write 4
#define SYS_rt_sigreturn 173
#define SYS_rt_sigaction 174
#define SYS_sigaltstack 186
#define SYS_mmap2 192

#define HEADER_MAGIC 0x48435055u /* "UPCH" */
#define CASE_MAGIC 0x45534143u   /* "CASE" */
#define DONE_MAGIC 0x454E4F44u   /* "DONE" */
#define HARNESS_VERSION 1u

struct harness_header {
    u32 magic, version, code_base, data_base, data_size;
    u16 selectors[6]; /* ES CS SS DS FS GS as the process starts */
};

struct case_in {
    u32 magic;
    u32 regs[8];   /* EAX ECX EDX EBX ESP EBP ESI EDI */
    u32 eflags;
    u32 seed;      /* data-region fill */
    u16 code_len, patch_bytes;
    u8 fpu[FPU_IMAGE];
};

struct case_out {
    u32 magic;
    u32 signal;    /* 0: the code ran to its end */
    u32 trapno, err, eip;
    u32 regs[8];
    u32 eflags;
    u16 selectors[6];
    u8 fpu[FPU_IMAGE];
    u32 changed;   /* then `changed` words: offset << 8 | new byte */
};

/* ---- system calls ---- */

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static long sys4(long n, long a, long b, long c, long d) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
    return r;
}

/* mmap2 takes six arguments; the sixth goes in EBP, which the compiler may
 * not let us name, so it is loaded from the argument block. */
static long sys_mmap2(u32 addr, u32 len, u32 prot, u32 flags) {
    u32 args[6] = { addr, len, prot, flags, (u32)-1, 0 };
    long r;
    __asm__ volatile(
        "push %%ebp\n\t"
        "mov 20(%%eax), %%ebp\n\t"
        "mov 16(%%eax), %%edi\n\t"
        "mov 12(%%eax), %%esi\n\t"
        "mov 8(%%eax), %%edx\n\t"
        "mov 4(%%eax), %%ecx\n\t"
        "mov 0(%%eax), %%ebx\n\t"
        "mov $192, %%eax\n\t"
        "int $0x80\n\t"
        "pop %%ebp"
        : "=a"(r) : "a"(args) : "ebx", "ecx", "edx", "esi", "edi", "memory");
    return r;
}

static void die(const char *msg, int code) {
    int n = 0;
    while (msg[n]) n++;
    sys3(SYS_write, 2, (long)msg, n);
    sys3(SYS_exit, code, 0, 0);
    for (;;) {}
}

/* gcc may emit calls to these even in freestanding code. */
void *memcpy(void *d, const void *s, unsigned n) {
    u8 *dp = d; const u8 *sp = s;
    while (n--) *dp++ = *sp++;
    return d;
}
void *memset(void *d, int v, unsigned n) {
    u8 *dp = d;
    while (n--) *dp++ = (u8)v;
    return d;
}

/* ---- buffered I/O on fds 0 and 1 ---- */

static u8 in_buf[1 << 16];
static u32 in_pos, in_len;
static u8 out_buf[1 << 18];
static u32 out_len;

/* Reads exactly n bytes; returns 0 at a clean end of input. */
static int read_exact(void *dst, u32 n) {
    u8 *d = dst;
    u32 got = 0;
    while (got < n) {
        if (in_pos == in_len) {
            long r = sys3(SYS_read, 0, (long)in_buf, sizeof in_buf);
            if (r < 0) die("harness: read failed\n", 2);
            if (r == 0) {
                if (got == 0) return 0;
                die("harness: truncated input\n", 2);
            }
            in_pos = 0; in_len = (u32)r;
        }
        d[got++] = in_buf[in_pos++];
    }
    return 1;
}

static void flush_out(void) {
    u32 done = 0;
    while (done < out_len) {
        long r = sys3(SYS_write, 1, (long)(out_buf + done), out_len - done);
        if (r <= 0) die("harness: write failed\n", 2);
        done += (u32)r;
    }
    out_len = 0;
}

static void emit(const void *src, u32 n) {
    const u8 *s = src;
    if (out_len + n > sizeof out_buf) flush_out();
    for (u32 i = 0; i < n; i++) out_buf[out_len++] = s[i];
}

/* ---- state shared with the assembly below ---- */

u32 in_regs[8], in_eflags;
u32 out_regs[8], out_eflags;
u16 out_selectors[6];
u16 start_selectors[6];
u32 saved_esp;
u8 fpu_in[512] __attribute__((aligned(16)));
u8 fpu_out[512] __attribute__((aligned(16)));

/* The data region as it was before the case ran, to report what changed. */
static u8 data_before[DATA_SIZE];

int run_case(void);
void case_return(void);
void fault_return(void);
void signal_restorer(void);

/*
 * run_case: loads the case's state and jumps to CODE_BASE; the code ends in
 * a JMP to case_return. Returns 0 there, 1 via fault_return after a signal.
 * EFLAGS is loaded with POPFD from the harness stack before ESP is switched,
 * so nothing is pushed below the case's ESP. On the way back the first
 * stores use an SS override: the code may have loaded a null DS or ES, but
 * any SS it could load is a valid data segment.
 */
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  push %ebp\n  push %ebx\n  push %esi\n  push %edi\n"
    "  mov %esp, saved_esp\n"
    "  fxrstor fpu_in\n"
    "  pushl in_eflags\n"
    "  popfl\n"
    "  mov in_regs+0, %eax\n"
    "  mov in_regs+4, %ecx\n"
    "  mov in_regs+8, %edx\n"
    "  mov in_regs+12, %ebx\n"
    "  mov in_regs+20, %ebp\n"
    "  mov in_regs+24, %esi\n"
    "  mov in_regs+28, %edi\n"
    "  mov in_regs+16, %esp\n"
    "  jmp 0x6000\n"
    ".globl case_return\n"
    "case_return:\n"
    "  mov %eax, %ss:out_regs+0\n"
    "  mov %ecx, %ss:out_regs+4\n"
    "  mov %edx, %ss:out_regs+8\n"
    "  mov %ebx, %ss:out_regs+12\n"
    "  mov %esp, %ss:out_regs+16\n"
    "  mov %ebp, %ss:out_regs+20\n"
    "  mov %esi, %ss:out_regs+24\n"
    "  mov %edi, %ss:out_regs+28\n"
    "  mov %ss:saved_esp, %esp\n"
    "  pushfl\n"
    "  popl %ss:out_eflags\n"
    "  mov %es, %ss:out_selectors+0\n"
    "  mov %cs, %ss:out_selectors+2\n"
    "  mov %ss, %ss:out_selectors+4\n"
    "  mov %ds, %ss:out_selectors+6\n"
    "  mov %fs, %ss:out_selectors+8\n"
    "  mov %gs, %ss:out_selectors+10\n"
    "  movzwl %ss:start_selectors+6, %eax\n"
    "  mov %eax, %ds\n"
    "  movzwl start_selectors+0, %eax\n"
    "  mov %eax, %es\n"
    "  movzwl start_selectors+8, %eax\n"
    "  mov %eax, %fs\n"
    "  movzwl start_selectors+10, %eax\n"
    "  mov %eax, %gs\n"
    /* Clear DF, AC, NT and the rest for the C code. */
    "  pushl $0x202\n"
    "  popfl\n"
    "  fxsave fpu_out\n"
    "  fninit\n"
    "  xor %eax, %eax\n"
    "  pop %edi\n  pop %esi\n  pop %ebx\n  pop %ebp\n"
    "  ret\n"
    ".globl fault_return\n"
    "fault_return:\n"
    "  mov saved_esp, %esp\n"
    "  fninit\n"
    "  mov $1, %eax\n"
    "  pop %edi\n  pop %esi\n  pop %ebx\n  pop %ebp\n"
    "  ret\n"
    ".globl signal_restorer\n"
    "signal_restorer:\n"
    "  mov $173, %eax\n"
    "  int $0x80\n"
);

/* ---- signals ---- */

/* The i386 signal frame as the kernel builds it (uapi asm/sigcontext.h,
 * struct sigcontext_32, inside struct ucontext). */
struct sigcontext32 {
    u16 gs, gsh, fs, fsh, es, esh, ds, dsh;
    u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
    u32 trapno, err, eip;
    u16 cs, csh;
    u32 eflags, esp_at_signal;
    u16 ss, ssh;
    u32 fpstate; /* struct _fpstate_32 *: FNSAVE image (112 bytes), then the FXSAVE image */
    u32 oldmask, cr2;
};

struct ucontext32 {
    u32 flags, link;
    u32 ss_sp, ss_flags, ss_size;
    struct sigcontext32 mc;
};

static struct case_out result;

static void on_signal(int sig, void *info, void *context) {
    struct ucontext32 *uc = context;
    struct sigcontext32 *m = &uc->mc;
    (void)info;
    if (m->eip < CODE_BASE || m->eip > CODE_BASE + 0x1000)
        die("harness: fault outside the test code\n", 3);
    result.signal = (u32)sig;
    result.trapno = m->trapno;
    result.err = m->err;
    result.eip = m->eip;
    u32 regs[8] = { m->eax, m->ecx, m->edx, m->ebx, m->esp, m->ebp, m->esi, m->edi };
    memcpy(result.regs, regs, sizeof regs);
    result.eflags = m->eflags;
    u16 sel[6] = { m->es, m->cs, m->ss, m->ds, m->fs, m->gs };
    memcpy(result.selectors, sel, sizeof sel);
    if (m->fpstate)
        memcpy(result.fpu, (u8 *)m->fpstate + 112, FPU_IMAGE);
    /* Resume in the harness with its own segments and sane flags. */
    m->eip = (u32)fault_return;
    m->eflags = 0x202;
    m->ds = start_selectors[3];
    m->es = start_selectors[0];
    m->fs = start_selectors[4];
    m->gs = start_selectors[5];
    m->ss = start_selectors[2];
}

struct kernel_sigaction {
    void (*handler)(int, void *, void *);
    u32 flags;
    void (*restorer)(void);
    u32 mask[2];
};

#define SA_SIGINFO 0x4u
#define SA_ONSTACK 0x08000000u
#define SA_RESTORER 0x04000000u

static u8 alt_stack[1 << 16] __attribute__((aligned(16)));

static void install_handlers(void) {
    u32 ss[3] = { (u32)alt_stack, 0, sizeof alt_stack };
    if (sys3(SYS_sigaltstack, (long)ss, 0, 0) != 0) die("harness: sigaltstack failed\n", 2);
    static const int signals[] = { 4 /* ILL */, 5 /* TRAP */, 7 /* BUS */, 8 /* FPE */, 11 /* SEGV */ };
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct kernel_sigaction sa = { on_signal, SA_SIGINFO | SA_ONSTACK | SA_RESTORER, signal_restorer, { 0, 0 } };
        if (sys4(SYS_rt_sigaction, signals[i], (long)&sa, 0, 8) != 0) die("harness: sigaction failed\n", 2);
    }
}

/* ---- the data-region fill, shared with the Swift side ---- */

/* xorshift32 (Marsaglia), one word per 4 bytes, little-endian. */
static void fill_data(u8 *p, u32 seed) {
    u32 x = seed ? seed : 0x9E3779B9u;
    for (u32 i = 0; i < DATA_SIZE; i += 4) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (u8)x; p[i + 1] = (u8)(x >> 8); p[i + 2] = (u8)(x >> 16); p[i + 3] = (u8)(x >> 24);
    }
}

static u8 patch_buf[DATA_SIZE + 4 * 64];

int harness_main(void) {
    if (sys_mmap2(CODE_BASE, 0x1000, 7, 0x32 /* PRIVATE|FIXED|ANON */) != CODE_BASE)
        die("harness: cannot map the code page\n", 2);
    if (sys_mmap2(DATA_BASE, DATA_SIZE, 3, 0x32) != DATA_BASE)
        die("harness: cannot map the data region\n", 2);
    install_handlers();
    __asm__ volatile(
        "mov %%es, start_selectors+0\n\t"
        "mov %%cs, start_selectors+2\n\t"
        "mov %%ss, start_selectors+4\n\t"
        "mov %%ds, start_selectors+6\n\t"
        "mov %%fs, start_selectors+8\n\t"
        "mov %%gs, start_selectors+10" ::: "memory");

    struct harness_header h = { HEADER_MAGIC, HARNESS_VERSION, CODE_BASE, DATA_BASE, DATA_SIZE, { 0 } };
    memcpy(h.selectors, start_selectors, sizeof h.selectors);
    emit(&h, sizeof h);

    u8 *code = (u8 *)CODE_BASE;
    u8 *data = (u8 *)DATA_BASE;
    struct case_in c;
    while (read_exact(&c, sizeof c)) {
        if (c.magic != CASE_MAGIC) die("harness: bad case magic\n", 2);
        if (c.code_len > 0x1000 - 5 || c.patch_bytes > sizeof patch_buf) die("harness: case too large\n", 2);
        memset(code, 0, 0x1000);
        if (!read_exact(code, c.code_len)) die("harness: truncated code\n", 2);
        /* JMP rel32 back to the harness. */
        u32 end = CODE_BASE + c.code_len;
        code[c.code_len] = 0xE9;
        u32 rel = (u32)case_return - (end + 5);
        memcpy(code + c.code_len + 1, &rel, 4);

        fill_data(data, c.seed);
        if (c.patch_bytes && !read_exact(patch_buf, c.patch_bytes)) die("harness: truncated patches\n", 2);
        for (u32 p = 0; p < c.patch_bytes;) {
            u16 off, len;
            memcpy(&off, patch_buf + p, 2);
            memcpy(&len, patch_buf + p + 2, 2);
            p += 4;
            if ((u32)off + len > DATA_SIZE || p + len > c.patch_bytes) die("harness: bad patch\n", 2);
            memcpy(data + off, patch_buf + p, len);
            p += len;
        }
        memcpy(data_before, data, DATA_SIZE);

        memset(fpu_in, 0, sizeof fpu_in);
        memcpy(fpu_in, c.fpu, FPU_IMAGE);
        u32 mxcsr = 0x1F80;
        memcpy(fpu_in + 24, &mxcsr, 4);
        memcpy(in_regs, c.regs, sizeof in_regs);
        in_eflags = c.eflags;

        memset(&result, 0, sizeof result);
        if (run_case() == 0) {
            memcpy(result.regs, out_regs, sizeof out_regs);
            result.eflags = out_eflags;
            memcpy(result.selectors, out_selectors, sizeof out_selectors);
            memcpy(result.fpu, fpu_out, FPU_IMAGE);
        }
        result.magic = DONE_MAGIC;
        u32 changed = 0;
        for (u32 i = 0; i < DATA_SIZE; i++) changed += data[i] != data_before[i];
        result.changed = changed;
        emit(&result, sizeof result);
        for (u32 i = 0; i < DATA_SIZE; i++) {
            if (data[i] != data_before[i]) {
                u32 w = i << 8 | data[i];
                emit(&w, 4);
            }
        }
    }
    flush_out();
    return 0;
}

__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  and $-16, %esp\n"
    "  call harness_main\n"
    "  mov %eax, %ebx\n"
    "  mov $1, %eax\n"
    "  int $0x80\n"
);
