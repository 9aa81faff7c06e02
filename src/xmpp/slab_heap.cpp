#include "xmpp/slab_heap.hpp"

#include <sys/mman.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_set>

namespace hongyan::xml::slab_heap {

namespace {

constexpr std::size_t kSlabSize = 64 * 1024;
constexpr std::array<std::size_t, 16> kClasses = {16,  32,  48,  64,   96,   128,  192,  256,
                                                  384, 512, 768, 1024, 1536, 2048, 3072, 4096};

struct FreeBlock {
    FreeBlock* next;
};

// Lives at the start of its slab; blocks follow it.
struct Slab {
    std::size_t size_class;
    std::size_t live = 0;
    FreeBlock* free = nullptr;
    Slab* prev = nullptr;  // in the list of slabs of its class that have free blocks
    Slab* next = nullptr;
    bool listed = false;
};

constexpr std::size_t kHeader = (sizeof(Slab) + 15) / 16 * 16;

struct Heap {
    std::mutex mu;
    std::array<Slab*, kClasses.size()> partial{};  // slabs with at least one free block
    std::unordered_set<std::uintptr_t> slabs;      // every mapped slab, to recognise blocks
};

Heap& heap() {
    static Heap* h = new Heap;  // never destroyed: blocks may be freed during exit
    return *h;
}

std::size_t class_index(std::size_t size) {
    for (std::size_t i = 0; i < kClasses.size(); ++i)
        if (size <= kClasses[i]) return i;
    return kClasses.size();
}

void unlink(Heap& h, Slab* s) {
    if (!s->listed) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        h.partial[s->size_class] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = nullptr;
    s->listed = false;
}

void link(Heap& h, Slab* s) {
    if (s->listed) return;
    s->prev = nullptr;
    s->next = h.partial[s->size_class];
    if (s->next) s->next->prev = s;
    h.partial[s->size_class] = s;
    s->listed = true;
}

Slab* new_slab(Heap& h, std::size_t ci) {
    // Over-map to find a 64 KiB aligned window, so a block's slab is its address rounded down.
    void* raw =
        mmap(nullptr, 2 * kSlabSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    auto start = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (start + kSlabSize - 1) & ~(kSlabSize - 1);
    if (aligned > start) munmap(raw, aligned - start);
    auto end = start + 2 * kSlabSize;
    if (end > aligned + kSlabSize)
        munmap(reinterpret_cast<void*>(aligned + kSlabSize), end - aligned - kSlabSize);
    auto* s = new (reinterpret_cast<void*>(aligned)) Slab{ci};
    const std::size_t block = kClasses[ci];
    for (std::size_t off = kSlabSize - block; off >= kHeader; off -= block) {
        auto* b = reinterpret_cast<FreeBlock*>(aligned + off);
        b->next = s->free;
        s->free = b;
        if (off < kHeader + block) break;
    }
    h.slabs.insert(aligned);
    link(h, s);
    return s;
}

Slab* slab_of(Heap& h, void* p) {
    auto base = reinterpret_cast<std::uintptr_t>(p) & ~(kSlabSize - 1);
    return h.slabs.count(base) ? reinterpret_cast<Slab*>(base) : nullptr;
}

}  // namespace

void* allocate(std::size_t size) {
    std::size_t ci = class_index(size);
    if (ci == kClasses.size()) return std::malloc(size);
    Heap& h = heap();
    std::lock_guard lock(h.mu);
    Slab* s = h.partial[ci];
    if (!s) s = new_slab(h, ci);
    if (!s) return nullptr;
    FreeBlock* b = s->free;
    s->free = b->next;
    ++s->live;
    if (!s->free) unlink(h, s);
    return b;
}

void deallocate(void* p) {
    if (!p) return;
    Heap& h = heap();
    std::unique_lock lock(h.mu);
    Slab* s = slab_of(h, p);
    if (!s) {
        lock.unlock();
        std::free(p);
        return;
    }
    auto* b = static_cast<FreeBlock*>(p);
    b->next = s->free;
    s->free = b;
    if (--s->live == 0) {
        unlink(h, s);
        h.slabs.erase(reinterpret_cast<std::uintptr_t>(s));
        munmap(s, kSlabSize);
        return;
    }
    link(h, s);
}

void* reallocate(void* p, std::size_t size) {
    if (!p) return allocate(size);
    std::size_t old_size = 0;
    {
        Heap& h = heap();
        std::lock_guard lock(h.mu);
        if (Slab* s = slab_of(h, p)) old_size = kClasses[s->size_class];
    }
    if (old_size == 0) {
        // A general-heap block: stays there unless it shrinks into a slab class.
        if (class_index(size) == kClasses.size()) return std::realloc(p, size);
        void* n = allocate(size);
        if (!n) return nullptr;
        std::memcpy(n, p, size);  // the old block was larger than any class
        std::free(p);
        return n;
    }
    if (size <= old_size && class_index(size) == class_index(old_size)) return p;
    void* n = allocate(size);
    if (!n) return nullptr;
    std::memcpy(n, p, size < old_size ? size : old_size);
    deallocate(p);
    return n;
}

std::size_t mapped_bytes() {
    Heap& h = heap();
    std::lock_guard lock(h.mu);
    return h.slabs.size() * kSlabSize;
}

}  // namespace hongyan::xml::slab_heap
