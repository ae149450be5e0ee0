// The six arithmetic EFLAGS of an x86 ALU operation, produced by the host
// processor (x86-64, like the guest) running that same operation.
//
// Computing CF, PF, AF, ZF, SF and OF in Swift takes about 25 host
// instructions per guest ALU instruction; the host computes all six in
// the instruction itself. Swift cannot reach the host's flags register,
// so these inline functions run the operation in inline assembly and read
// the flags with LAHF (SF ZF AF PF CF, already in their EFLAGS bit
// positions) and SETO. Swift inlines them from this header like its own
// code; each function's size argument is a constant at its call sites, so
// only one operand width's assembly remains. Each result holds only the
// six arithmetic flag bits: the caller merges them into EFLAGS.
#ifndef NOVABOX_HOST_FLAGS_H
#define NOVABOX_HOST_FLAGS_H

#include <stdint.h>

#if !defined(__x86_64__)
#error "Novabox's interpreter computes guest flags with the x86-64 host's ALU"
#endif

#define NOVABOX_INLINE static inline __attribute__((always_inline))

/// LAHF leaves SF ZF 0 AF 0 PF 1 CF in AH; OF comes as a flag output
/// operand (the compiler reads it with SETO, knowing it is 0 or 1).
NOVABOX_INLINE uint32_t novabox_flags_from_lahf(uint32_t ax, _Bool of) {
    return (ax >> 8 & 0xD5) | (uint32_t)of << 11;
}

// One function per operation, for operand sizes 1, 2 and 4 bytes:
// `a OP b`, with the guest's carry (bit 0 of `carry`) loaded into the
// host's CF first for ADC and SBB. The operation's result is not
// returned: the semantic functions compute it themselves.
#define NOVABOX_ALU_FLAGS(name, setCarry, operation, carryInput)                                               \
    NOVABOX_INLINE uint32_t novabox_##name##_flags(uint32_t a, uint32_t b, uint32_t carry, int size) {         \
        uint32_t ax;                                                                                           \
        _Bool of;                                                                                              \
        if (size == 1)                                                                                         \
            __asm__(setCarry operation "b %b[b], %b[a]\n\tlahf"                                                \
                    : [a] "+r"(a), "=a"(ax), "=@cco"(of) : [b] "r"(b), [c] carryInput(carry) : "cc");          \
        else if (size == 2)                                                                                    \
            __asm__(setCarry operation "w %w[b], %w[a]\n\tlahf"                                                \
                    : [a] "+r"(a), "=a"(ax), "=@cco"(of) : [b] "r"(b), [c] carryInput(carry) : "cc");          \
        else                                                                                                   \
            __asm__(setCarry operation "l %k[b], %k[a]\n\tlahf"                                                \
                    : [a] "+r"(a), "=a"(ax), "=@cco"(of) : [b] "r"(b), [c] carryInput(carry) : "cc");          \
        return novabox_flags_from_lahf(ax, of);                                                                \
    }

// ADD and SUB ignore `carry` (callers pass 0): it becomes an unused
// immediate operand, so no register is spent on it.
#define NOVABOX_NO_CARRY(carry) "i"(0)
#define NOVABOX_CARRY(carry) "r"(carry)
NOVABOX_ALU_FLAGS(add, "", "add", NOVABOX_NO_CARRY)
NOVABOX_ALU_FLAGS(sub, "", "sub", NOVABOX_NO_CARRY)
NOVABOX_ALU_FLAGS(adc, "btl $0, %k[c]\n\t", "adc", NOVABOX_CARRY)
NOVABOX_ALU_FLAGS(sbb, "btl $0, %k[c]\n\t", "sbb", NOVABOX_CARRY)

/// PF, ZF and SF of `result` at `size` bytes (TEST of the result with
/// itself; its CF, OF and AF are masked off).
NOVABOX_INLINE uint32_t novabox_result_flags(uint32_t result, int size) {
    uint32_t ax;
    if (size == 1)
        __asm__("testb %b[r], %b[r]\n\tlahf" : "=a"(ax) : [r] "r"(result) : "cc");
    else if (size == 2)
        __asm__("testw %w[r], %w[r]\n\tlahf" : "=a"(ax) : [r] "r"(result) : "cc");
    else
        __asm__("testl %k[r], %k[r]\n\tlahf" : "=a"(ax) : [r] "r"(result) : "cc");
    return ax >> 8 & 0xC4;
}

#undef NOVABOX_ALU_FLAGS
#undef NOVABOX_NO_CARRY
#undef NOVABOX_CARRY
#undef NOVABOX_INLINE

#endif
