/*
 * The program's address space (the lower half): a sorted list of areas (VMAs) and the page
 * tables that back them. Anonymous pages are allocated on first touch (vm_fault).
 */
#ifndef VM_H
#define VM_H
#include "kernel.h"
#include "layout.h"

#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4

#define STACK_TOP_FIXED 0x00007ffffffff000UL
#define PIE_BASE_FIXED 0x555555554000UL   /* where Linux puts a static-PIE without ASLR */

/* Where things go in the program's half; randomized per boot by vm_randomize (ASLR). */
struct vm_layout {
    uint64_t stack_top, mmap_top, pie_base, heap_gap;
};
extern struct vm_layout layout;
void vm_randomize(void);
extern bool vm_exec_data;   /* the "execdata" flag: no NX on the program's pages */
#define STACK_TOP (layout.stack_top)
#define MMAP_TOP (layout.mmap_top)
#define MMAP_BOTTOM 0x10000UL     /* nothing is ever mapped below: null pointers fault */

enum vma_kind { VMA_ANON, VMA_STACK, VMA_HEAP, VMA_IMAGE };

struct vma {
    uint64_t start, end;   /* page aligned, end exclusive */
    int prot;
    enum vma_kind kind;
    struct vma *next;
};

void vm_init(void);                     /* drops the boot identity map of the lower half */
struct vma *vm_find(uint64_t addr);     /* the area holding addr, or NULL */
bool vm_range_free(uint64_t start, uint64_t end);
uint64_t vm_find_free(uint64_t len);    /* top-down below MMAP_TOP; 0 when nothing fits */
long vm_insert(uint64_t start, uint64_t end, int prot, enum vma_kind kind);
long vm_unmap(uint64_t start, uint64_t end);
long vm_protect(uint64_t start, uint64_t end, int prot);
long vm_move(uint64_t old_start, uint64_t new_start, uint64_t len);  /* pages and areas */
bool vm_fault(uint64_t addr, bool write, bool exec);  /* true when the fault was served */
void *vm_page(uint64_t va);             /* kernel pointer to the (allocated) page holding va */
void vm_discard(uint64_t start, uint64_t end);   /* MADV_DONTNEED: next touch reads zeros */
#endif
