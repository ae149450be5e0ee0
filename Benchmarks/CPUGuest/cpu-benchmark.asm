; The CPU-bound benchmark guest: a raw disk image that SeaBIOS boots
; (-hda), which enters 32-bit protected mode and runs fixed work in three
; phases, first with paging off and then again with paging on (identity
; map of 16 MiB in 4 KiB pages, as Linux runs):
;   int   integer loop: xorshift, multiplies, rotates, data-dependent
;         branches, and every eighth round a DIV and a widening MUL;
;   copy  memory copies: REP STOSD, REP MOVSD, a byte loop and a dword
;         loop over 256 KiB buffers, COPY_ROUNDS times;
;   lz    an LZSS decoder over the packed data the harness appends
;         (incbin), LZ_ROUNDS times, each output folded to a checksum.
; Each phase prints "begin NAME\n" and "end NAME XXXXXXXX\n" (its
; checksum in hex) on COM1; NAME gets "-pg" with paging on. After "done\n"
; the guest resets through port CF9h, which with -no-reboot ends the run
; in Novabox and in QEMU alike.
;
; The harness (CPUBenchmarkGuest.swift) assembles it with
;   -DINT_ROUNDS=n -DCOPY_ROUNDS=n -DLZ_ROUNDS=n -DUNPACKED_SIZE=n -DPACKED="file"
; and computes the same checksums on the host with its own code.
;
; LZSS stream: a control byte, then up to eight items, its bits from the
; lowest: 1 = one literal byte, 0 = a match of two bytes, little-endian,
; bits 0-11 distance - 1 (up to 4096 back), bits 12-15 length - 3.

COM1            equ 0x3F8
STACK_TOP       equ 0x7C00
LOAD_CHUNK      equ 64              ; sectors per INT 13h read (32 KiB)
PAGE_DIRECTORY  equ 0x90000
PAGE_TABLES     equ 0x91000         ; four, mapping 0-16 MiB
COPY_SOURCE     equ 0x100000
COPY_TARGET     equ 0x200000
COPY_SECOND     equ 0x300000
UNPACKED        equ 0x400000
COPY_BYTES      equ 0x40000
COPY_SLACK      equ 256             ; room for the offset copies

; One step of xorshift32 on EAX (EDX scratch).
%macro XORSHIFT32 0
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
%endmacro

    bits 16
    org 0x7C00

boot:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STACK_TOP
    sti
    mov [drive], dl
    ; The rest of the image follows the boot sector, read in chunks with
    ; the BIOS's LBA read (AH=42h).
.load:
    mov ax, [sectors_left]
    test ax, ax
    jz .loaded
    cmp ax, LOAD_CHUNK
    jbe .count
    mov ax, LOAD_CHUNK
.count:
    mov [dap.count], ax
    mov si, dap
    mov dl, [drive]
    mov ah, 0x42
    int 0x13
    jc .disk_error
    mov ax, [dap.count]
    sub [sectors_left], ax
    add [dap.lba], ax
    shl ax, 5                       ; sectors -> paragraphs
    add [dap.segment], ax
    jmp .load
.disk_error:
    mov si, disk_error_text
.print:
    lodsb
    test al, al
    jz .halt
    mov dx, COM1
    out dx, al
    jmp .print
.halt:
    cli
    hlt
    jmp .halt

.loaded:
    cli
    in al, 0x92                     ; A20 on (fast A20 gate)
    or al, 2
    and al, 0xFE
    out 0x92, al
    lgdt [gdt_descriptor]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:protected_mode

drive:          db 0
sectors_left:   dw IMAGE_SECTORS - 1
dap:            db 16, 0
.count:         dw 0
.offset:        dw 0x7E00
.segment:       dw 0
.lba:           dq 1
disk_error_text: db "cpubench: disk read failed", 10, 0

    align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF           ; 08h: flat 32-bit code
    dq 0x00CF93000000FFFF           ; 10h: flat data
gdt_descriptor:
    dw gdt_descriptor - gdt - 1
    dd gdt

    times 510 - ($ - $$) db 0
    dw 0xAA55

; ---------------------------------------------------------------------------
    bits 32
protected_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    cld

    mov dword [name_suffix], no_suffix
    call all_phases

    ; Paging: identity map of 0-16 MiB through four page tables.
    mov edi, PAGE_DIRECTORY
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov edi, PAGE_DIRECTORY
    mov eax, PAGE_TABLES | 3        ; present, writable
    mov ecx, 4
.directory:
    stosd
    add eax, 0x1000
    loop .directory
    mov edi, PAGE_TABLES
    mov eax, 3
    mov ecx, 4096
.tables:
    stosd
    add eax, 0x1000
    loop .tables
    mov eax, PAGE_DIRECTORY
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .paged
.paged:
    mov dword [name_suffix], paged_suffix
    call all_phases

    mov esi, done_text
    call print
    mov al, 6                       ; hard reset: the end of the run
    mov dx, 0xCF9
    out dx, al
.stop:
    hlt
    jmp .stop

all_phases:
    mov ebp, int_name
    mov ebx, int_phase
    call run_phase
    mov ebp, copy_name
    mov ebx, copy_phase
    call run_phase
    mov ebp, lz_name
    mov ebx, lz_phase
    jmp run_phase

; Runs the phase at EBX between its two lines, named by the string at EBP.
run_phase:
    push ebp
    mov esi, begin_text
    call print_phase_name
    mov al, 10
    call put_char
    call ebx
    pop ebp
    push eax
    mov esi, end_text
    call print_phase_name
    mov al, ' '
    call put_char
    pop eax
    call print_hex
    mov al, 10
    jmp put_char

; ESI = "begin " or "end ", EBP = the phase's name.
print_phase_name:
    call print
    mov esi, ebp
    call print
    mov esi, [name_suffix]
    jmp print

; ---------------------------------------------------------------------------
; int: returns the accumulator XOR the division chain.
int_phase:
    mov ecx, INT_ROUNDS
    mov eax, 0x12345678             ; xorshift32 state
    xor ebx, ebx                    ; accumulator
    mov edi, 1                      ; division chain
.round:
    XORSHIFT32
    imul esi, eax, 0x9E3779B1
    add ebx, esi
    test al, 1
    jz .even
    sub ebx, eax
    ror ebx, 3
    jmp .joined
.even:
    xor ebx, eax
    rol ebx, 5
.joined:
    test cl, 7
    jnz .next
    push eax
    mov esi, eax
    shr esi, 16
    or esi, 1
    mov eax, ebx
    xor edx, edx
    div esi
    add edi, edx                    ; remainder
    mul edi                         ; quotient * chain, 64 bits
    xor edi, edx
    add edi, eax
    pop eax
.next:
    dec ecx
    jnz .round
    mov eax, ebx
    xor eax, edi
    ret

; ---------------------------------------------------------------------------
; copy: the source block starts as a xorshift stream; each round r fills
; the target with a pattern (REP STOSD), copies the source over it at
; 4*(r mod 16) (REP MOVSD), copies the target from byte r mod 8 to the
; second block (byte loop), and writes the second block plus each dword's
; index back to the source (dword loop). Returns the fold of the source.
copy_phase:
    mov edi, COPY_SOURCE
    mov ecx, COPY_BYTES / 4
    mov eax, 0x2545F491
.fill:
    XORSHIFT32
    mov [edi], eax
    add edi, 4
    dec ecx
    jnz .fill
    xor ebp, ebp                    ; round
.round:
    imul eax, ebp, 0x01010101
    xor eax, 0xA5A5A5A5
    mov edi, COPY_TARGET
    mov ecx, (COPY_BYTES + COPY_SLACK) / 4
    rep stosd
    mov edi, ebp
    and edi, 15
    lea edi, [COPY_TARGET + edi * 4]
    mov esi, COPY_SOURCE
    mov ecx, COPY_BYTES / 4
    rep movsd
    mov esi, ebp
    and esi, 7
    add esi, COPY_TARGET
    mov edi, COPY_SECOND
    xor ecx, ecx
.bytes:
    mov al, [esi + ecx]
    mov [edi + ecx], al
    inc ecx
    cmp ecx, COPY_BYTES
    jb .bytes
    xor ecx, ecx
.dwords:
    mov eax, [COPY_SECOND + ecx * 4]
    add eax, ecx
    mov [COPY_SOURCE + ecx * 4], eax
    inc ecx
    cmp ecx, COPY_BYTES / 4
    jb .dwords
    inc ebp
    cmp ebp, COPY_ROUNDS
    jb .round
    mov esi, COPY_SOURCE
    mov ecx, COPY_BYTES / 4
    jmp fold

; ---------------------------------------------------------------------------
; lz: clears the output once (so a run with paging cannot pass on what
; the run without left there), then decodes and folds it LZ_ROUNDS times;
; returns the folds chained as acc = rol(acc, 1) + fold.
lz_phase:
    mov edi, UNPACKED
    xor eax, eax
    mov ecx, UNPACKED_SIZE / 4
    rep stosd
    mov dword [lz_chain], 0
    mov dword [lz_rounds_left], LZ_ROUNDS
.round:
    mov esi, packed
    mov edx, packed_end
    mov edi, UNPACKED
    call lzss_decode
    mov esi, UNPACKED
    mov ecx, UNPACKED_SIZE / 4
    call fold
    mov ebx, [lz_chain]
    rol ebx, 1
    add ebx, eax
    mov [lz_chain], ebx
    dec dword [lz_rounds_left]
    jnz .round
    mov eax, ebx
    ret

; ESI = stream, EDX = its end, EDI = output.
lzss_decode:
.control:
    cmp esi, edx
    jae .done
    movzx ebx, byte [esi]
    inc esi
    or ebx, 0x100                   ; marks when the eight bits are used up
.item:
    cmp esi, edx
    jae .done
    shr ebx, 1
    jnc .match
    movsb
    jmp .next
.match:
    movzx eax, word [esi]
    add esi, 2
    mov ecx, eax
    shr ecx, 12
    add ecx, 3
    and eax, 0xFFF
    inc eax
    mov ebp, edi
    sub ebp, eax
.copy:                              ; byte by byte: a match may overlap its output
    mov al, [ebp]
    inc ebp
    mov [edi], al
    inc edi
    dec ecx
    jnz .copy
.next:
    cmp ebx, 1
    jne .item
    jmp .control
.done:
    ret

; ---------------------------------------------------------------------------
; The checksum of ECX dwords at ESI: c = rol(c, 5) xor dword.
fold:
    xor eax, eax
.dword:
    rol eax, 5
    xor eax, [esi]
    add esi, 4
    dec ecx
    jnz .dword
    ret

; Serial output, polling the transmitter-empty bit.
put_char:
    push edx
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

; The zero-terminated string at ESI.
print:
    lodsb
    test al, al
    jz .done
    call put_char
    jmp print
.done:
    ret

; EAX as eight hex digits.
print_hex:
    mov ecx, 8
.digit:
    rol eax, 4
    push eax
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .put
    add al, 'a' - '9' - 1
.put:
    call put_char
    pop eax
    loop .digit
    ret

begin_text:     db "begin ", 0
end_text:       db "end ", 0
int_name:       db "int", 0
copy_name:      db "copy", 0
lz_name:        db "lz", 0
no_suffix:      db 0
paged_suffix:   db "-pg", 0
done_text:      db "done", 10, 0
    align 4
name_suffix:    dd 0
lz_chain:       dd 0
lz_rounds_left: dd 0

packed:
    incbin PACKED
packed_end:
    align 512, db 0
image_end:

IMAGE_SECTORS equ (image_end - boot) / 512
