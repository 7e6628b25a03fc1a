/* Memory syscalls: brk, mmap (anonymous and private file mappings), munmap, mprotect, mremap, madvise. */
#include "fs.h"
#include "process.h"
#include "syscalls.h"
#include "vm.h"

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE 0x0f
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_POPULATE 0x8000
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define MADV_DONTNEED 4

static uint64_t brk_start, brk_cur;

void memory_init(uint64_t heap_start) { brk_start = brk_cur = heap_start; }

long sys_brk(long addr) {
    uint64_t want = (uint64_t)addr;
    if (want < brk_start || want > MMAP_TOP)
        return (long)brk_cur;
    uint64_t old_end = ALIGN_UP(brk_cur, PAGE_SIZE), new_end = ALIGN_UP(want, PAGE_SIZE);
    if (new_end > old_end) {
        if (!vm_range_free(old_end, new_end) || vm_insert(old_end, new_end, PROT_READ | PROT_WRITE, VMA_HEAP))
            return (long)brk_cur;
    } else if (new_end < old_end) {
        vm_unmap(new_end, old_end);
    }
    brk_cur = want;
    return (long)brk_cur;
}

static bool valid_prot(long prot) { return !(prot & ~(long)(PROT_READ | PROT_WRITE | PROT_EXEC)); }

/* W^X (the "wx" command-line flag): no mapping is ever writable and executable at once, so code
 * written at run time can never run. */
bool enforce_wx;
static bool wx_refused(long prot) { return enforce_wx && (prot & PROT_WRITE) && (prot & PROT_EXEC); }

static long map_file(uint64_t addr, uint64_t len, long fd, uint64_t off) {
    struct file *f = fd_get((int)fd);
    if (!f)
        return -EBADF;
    for (uint64_t done = 0; done < len; done += PAGE_SIZE) {
        void *page = vm_page(addr + done);
        if (!page)
            return -ENOMEM;
        long n = file_read_at(f, page, PAGE_SIZE, off + done);
        if (n < 0)
            return n;
        if (n < (long)PAGE_SIZE)
            break;   /* the rest stays zero, as past the end of a file */
    }
    return 0;
}

long sys_mmap(long addr, long len, long prot, long flags, long fd, long off) {
    uint64_t type = (uint64_t)flags & MAP_TYPE;
    if (len <= 0 || (off & (PAGE_SIZE - 1)) || off < 0 || !valid_prot(prot & 7))
        return -EINVAL;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
        return -EINVAL;
    uint64_t size = ALIGN_UP((uint64_t)len, PAGE_SIZE);
    if (size == 0 || size > MMAP_TOP)
        return -ENOMEM;
    if (wx_refused(prot)) {
        kprintf("unikit: mmap asked for memory both writable and executable: refused (W^X)\n");
        return -EACCES;
    }
    bool anon = flags & MAP_ANONYMOUS;
    if (!anon && type != MAP_PRIVATE && (prot & PROT_WRITE)) {
        kprintf("unikit: shared writable file mappings are not supported\n");
        return -ENODEV;
    }
    if (!anon && !fd_get((int)fd))
        return -EBADF;
    uint64_t at;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        at = (uint64_t)addr;
        if (at & (PAGE_SIZE - 1))
            return -EINVAL;
        if (at < MMAP_BOTTOM || at + size > USER_TOP || at + size < at)
            return -ENOMEM;
        if (!vm_range_free(at, at + size)) {
            if (flags & MAP_FIXED_NOREPLACE)
                return -EEXIST;
            long err = vm_unmap(at, at + size);
            if (err)
                return err;
        }
    } else {
        at = ALIGN_DOWN((uint64_t)addr, PAGE_SIZE);
        if (!at || !vm_range_free(at, at + size))
            at = vm_find_free(size);
        if (!at)
            return -ENOMEM;
    }
    long err = vm_insert(at, at + size, (int)(prot & 7), VMA_ANON);
    if (!err && !anon)
        err = map_file(at, size, fd, (uint64_t)off);
    if (!err && (flags & MAP_POPULATE))
        for (uint64_t va = at; va < at + size && !err; va += PAGE_SIZE)
            err = vm_page(va) ? 0 : -ENOMEM;
    if (err) {
        vm_unmap(at, at + size);
        return err;
    }
    return (long)at;
}

long sys_munmap(long addr, long len) {
    if ((addr & (PAGE_SIZE - 1)) || len <= 0)
        return -EINVAL;
    uint64_t end = (uint64_t)addr + ALIGN_UP((uint64_t)len, PAGE_SIZE);
    if (end > USER_TOP || end < (uint64_t)addr)
        return -EINVAL;
    return vm_unmap((uint64_t)addr, end);
}

long sys_mprotect(long addr, long len, long prot) {
    if ((addr & (PAGE_SIZE - 1)) || len < 0)
        return -EINVAL;
    prot &= ~0x03000000L;   /* PROT_GROWSDOWN/UP: no meaning here */
    if (!valid_prot(prot))
        return -EINVAL;
    if (wx_refused(prot)) {
        kprintf("unikit: mprotect asked for memory both writable and executable: refused (W^X)\n");
        return -EACCES;
    }
    uint64_t end = (uint64_t)addr + ALIGN_UP((uint64_t)len, PAGE_SIZE);
    if (end > USER_TOP || end < (uint64_t)addr)
        return -ENOMEM;
    if (len == 0)
        return 0;
    return vm_protect((uint64_t)addr, end, (int)prot);
}

long sys_mremap(long old_addr, long old_len, long new_len, long flags, long new_addr) {
    (void)new_addr;
    if ((old_addr & (PAGE_SIZE - 1)) || new_len <= 0 || (flags & ~(long)(MREMAP_MAYMOVE | MREMAP_FIXED)))
        return -EINVAL;
    if (flags & MREMAP_FIXED)
        return -EINVAL;   /* not needed by the programs unikit runs; refused rather than half done */
    uint64_t old_start = (uint64_t)old_addr;
    uint64_t old_size = ALIGN_UP((uint64_t)old_len, PAGE_SIZE), new_size = ALIGN_UP((uint64_t)new_len, PAGE_SIZE);
    struct vma *v = vm_find(old_start);
    if (!v || old_start + old_size > v->end || old_size == 0)
        return -EFAULT;
    if (new_size <= old_size) {
        if (new_size < old_size)
            vm_unmap(old_start + new_size, old_start + old_size);
        return old_addr;
    }
    int prot = v->prot;
    if (vm_range_free(old_start + old_size, old_start + new_size)) {
        long err = vm_insert(old_start + old_size, old_start + new_size, prot, VMA_ANON);
        return err ? err : old_addr;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -ENOMEM;
    uint64_t to = vm_find_free(new_size);
    if (!to)
        return -ENOMEM;
    long err = vm_move(old_start, to, old_size);
    if (!err)
        err = vm_insert(to + old_size, to + new_size, prot, VMA_ANON);
    return err ? err : (long)to;
}

/* The advice values Linux knows (5-7 are unused numbers); the rest are refused like Linux does. */
static bool known_advice(long a) { return (a >= 0 && a <= 25 && (a < 5 || a > 7)) || a == 100 || a == 101; }

long sys_madvise(long addr, long len, long advice) {
    if ((addr & (PAGE_SIZE - 1)) || len < 0 || !known_advice(advice))
        return -EINVAL;
    uint64_t end = (uint64_t)addr + ALIGN_UP((uint64_t)len, PAGE_SIZE);
    if (advice == MADV_DONTNEED) {
        for (uint64_t a = (uint64_t)addr; a < end;) {
            struct vma *v = vm_find(a);
            if (!v)
                return -ENOMEM;
            a = v->end;
        }
        vm_discard((uint64_t)addr, end);
    }
    return 0;
}
