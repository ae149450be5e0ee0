; A bare-metal guest for the engine switch, loaded as the BIOS image
; (-bios): real mode -> protected mode -> paging -> port output on the
; debug console (port E9h), VGA text writes (MMIO), PIT interrupts through
; the PIC, a page fault the guest handles -> results at 9000h -> paging
; off again (KVM hands the guest back) and two more timer interrupts in
; unpaged protected mode, then a reset through port CF9h (the run ends
; with -no-reboot).
;
; It pages with long mode when CPUID offers it (the interpreter hands
; over to KVM at that switch) and with 32-bit paging otherwise, or always
; with -DFORCE32. Both paths run the same checks and print the same text.
;
; With -DPEEK, the long-mode path first runs a section for the debugger
; (see there) and prints its results before "PG".
;
; Results: [9000h] timer ticks seen, [9004h] CR2 of the page fault,
; [9008h] the value read back through the page the handler mapped (it
; lands at physical 400000h).
;
; Code in RAM: two routines that print a character are written and run
; before paging, so the engine before the switch caches them. While
; paging is on (in KVM, when it takes the guest) the one at 8000h is
; rewritten to print '2' instead of '1'; both run again once paging is off
; (back in our engine), which must see the new code and may keep the
; routine at 7000h, which nobody wrote.

ROMBASE equ 0xF0000
RESULTS equ 0x9000
FAULTADDR equ 0x40000000
SPACE equ 0x7000
DIGIT equ 0x8000

; An interrupt gate (type 8Eh, present, DPL 0) in the IDT at %1, whose
; entries are %2 bytes (8 in protected mode, 16 in long mode, the upper
; half left zero): vector %3 to selector %4, handler %5. Clobbers EAX.
%macro INTGATE 5
    mov eax, %5
    mov word [%1 + %3 * %2], ax
    mov word [%1 + %3 * %2 + 2], %4
    mov word [%1 + %3 * %2 + 4], 0x8E00
    shr eax, 16
    mov word [%1 + %3 * %2 + 6], ax
%endmacro

%macro PUTS 1
    %strlen %%len %1
    %assign %%i 1
    %rep %%len
        %substr %%c %1 %%i
        mov al, %%c
        out 0xE9, al
        %assign %%i %%i+1
    %endrep
%endmacro

; Index register, then data register, a byte each.
%macro VGAREG 3
    mov dx, %1
    mov al, %2
    out dx, al
    inc dx
    mov al, %3
    out dx, al
%endmacro

; The checks both paging paths run (expanded once in each mode), then
; on to %1, which turns paging off.
%macro CHECKS 1
    PUTS "PG "
    ; VGA: RAM on (misc output), colour text addressing at B8000h with
    ; odd/even planes, all bits from the CPU (graphics controller 5, 6, 8;
    ; sequencer 2 and 4).
    mov al, 0x23
    mov dx, 0x3C2
    out dx, al
    VGAREG 0x3CE, 5, 0x10
    VGAREG 0x3CE, 6, 0x0E
    VGAREG 0x3CE, 8, 0xFF
    VGAREG 0x3C4, 2, 0x03
    VGAREG 0x3C4, 4, 0x02
    mov word [0xB8000], 0x1F4F
    mov word [0xB8002], 0x1F4B
    ; PIC: vectors 20h-27h, only IRQ0 unmasked; PIT channel 0 at 1 kHz.
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 4
    out 0x21, al
    mov al, 1
    out 0x21, al
    mov al, 0xFE
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al
    mov al, 0x34
    out 0x43, al
    mov al, 0xA9
    out 0x40, al
    mov al, 0x04
    out 0x40, al
    sti
%%wait:
    hlt
    cmp dword [RESULTS], 3
    jb %%wait
    cli
    PUTS "IRQ "
    mov dword [FAULTADDR], 0x600D600D
    mov eax, [FAULTADDR]
    mov [RESULTS + 8], eax
    PUTS "PF "
    mov byte [DIGIT + 1], '2'
    jmp %1
%endmacro

    org 0
    bits 16
start:
    cli
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(ROMBASE + pm32)

    bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x80000
    PUTS "PM "
    ; mov al, imm8; out 0E9h, al; ret
    mov dword [SPACE], 0xE9E6_20B0
    mov byte [SPACE + 4], 0xC3
    mov dword [DIGIT], 0xE9E6_31B0
    mov byte [DIGIT + 4], 0xC3
    mov eax, DIGIT
    call eax
    mov eax, SPACE
    call eax
    ; Page tables at 10000h-13FFFh start empty.
    mov edi, 0x10000
    mov ecx, 0x1000
    xor eax, eax
    rep stosd
    ; 32-bit IDT at 2000h: #PF and the timer (also used once paging is off).
    INTGATE 0x2000, 8, 14, 0x08, ROMBASE + pf32
    INTGATE 0x2000, 8, 0x20, 0x08, ROMBASE + tick32
%ifndef FORCE32
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb paging32
    mov eax, 0x80000001
    cpuid
    bt edx, 29
    jc long_mode
%endif

paging32:
    lidt [ROMBASE + idt32_desc]
    mov dword [0x10000], 0x83          ; 0-4 MiB, one 4 MiB page
    mov eax, cr4
    or eax, 0x10                       ; PSE
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax                       ; paging on: the hand-over point
    CHECKS leave32

tick32:
    push eax
    inc dword [RESULTS]
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd

leave32:
compat:
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax                       ; paging off (leaves long mode too)
    lidt [ROMBASE + idt32_desc]
    mov ebx, [RESULTS]
    add ebx, 2
    sti
.wait:
    hlt
    cmp [RESULTS], ebx
    jb .wait
    cli
    PUTS "OFF"
    mov eax, SPACE
    call eax
    mov eax, DIGIT
    call eax
    PUTS " DONE"
    mov al, 10
    out 0xE9, al
    mov al, 6
    mov dx, 0xCF9
    out dx, al
.stop:
    hlt
    jmp .stop

pf32:
    push eax
    mov eax, cr2
    mov [RESULTS + 4], eax
    mov dword [0x10000 + (FAULTADDR >> 22) * 4], 0x400083
    invlpg [FAULTADDR]
    pop eax
    add esp, 4
    iretd

long_mode:
    INTGATE 0x3000, 16, 14, 0x18, ROMBASE + pf64
    INTGATE 0x3000, 16, 0x20, 0x18, ROMBASE + tick64
    mov dword [0x10000], 0x11003       ; PML4[0] -> PDPT
    mov dword [0x11000], 0x12003       ; PDPT[0] -> PD
    mov dword [0x12000], 0x83          ; 0-2 MiB
    mov dword [0x12008], 0x200083      ; 2-4 MiB
    mov eax, cr4
    or eax, 0x20                       ; PAE
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100                      ; EFER.LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax                       ; long mode active: the hand-over point
    jmp 0x18:(ROMBASE + lm64)

    bits 64
lm64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x80000
    lidt [ROMBASE + idt64_desc]
%ifdef PEEK
    ; For the debugger's view of a guest in KVM (DebuggerTests/
    ; KVMInspectionTests), with interrupts still off: three steps of a
    ; linear congruential generator in EBX, each followed by an OUT to port
    ; 80h (where the test stops the machine) and EBX in hex on E9h; then
    ; LOOP spins from 2^40, days even on real hardware, until a debugger
    ; writes a small count to ECX.
    mov ebx, 0x600D
    mov ebp, 3
.step:
    imul ebx, ebx, 1103515245
    add ebx, 12345
    out 0x80, al
    mov ecx, 8
.digit:
    rol ebx, 4
    mov eax, ebx
    and eax, 0xF
    mov al, [ROMBASE + hexdigits + rax]
    out 0xE9, al
    dec ecx
    jnz .digit
    mov al, ' '
    out 0xE9, al
    dec ebp
    jnz .step
    mov rcx, 1 << 40
.spin:
    loop .spin
    PUTS "SPUN "
%endif
    CHECKS leave64

leave64:
    ; Back to a 32-bit code segment (compatibility mode), where paging
    ; can go off.
    push 0x08
    mov eax, ROMBASE + compat
    push rax
    o64 retf

tick64:
    push rax
    inc dword [RESULTS]
    mov al, 0x20
    out 0x20, al
    pop rax
    iretq

pf64:
    push rax
    mov rax, cr2
    mov [RESULTS + 4], eax
    mov qword [0x11000 + (FAULTADDR >> 30) * 8], 0x13003
    mov qword [0x13000], 0x400083
    invlpg [FAULTADDR]
    pop rax
    add rsp, 8
    iretq

%ifdef PEEK
hexdigits:
    db "0123456789abcdef"
%endif

    align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF              ; 08h: 32-bit code
    dq 0x00CF93000000FFFF              ; 10h: data
    dq 0x00AF9B000000FFFF              ; 18h: 64-bit code
gdt_desc:
    dw gdt_desc - gdt - 1
    dd ROMBASE + gdt
idt32_desc:
    dw 0x20 * 8 + 7
    dd 0x2000
idt64_desc:
    dw 0x20 * 16 + 15
    dq 0x3000

    times 0xFFF0 - ($ - $$) db 0xFF
    bits 16
    jmp 0xF000:start
    times 0x10000 - ($ - $$) db 0xFF
