// A small segregated heap for the XML parser's memory.
//
// An expat parser takes about 12 KiB in some fifty small blocks. Allocated from the
// general heap they interleave with each session's long-lived objects, so when idle
// sessions free their parsers the pages stay resident (fragmentation). Here they come from
// 64 KiB slabs, one size class per slab, that hold nothing else; a slab whose blocks are
// all free goes back to the kernel at once.
#pragma once

#include <cstddef>

namespace hongyan::xml {

namespace slab_heap {
void* allocate(std::size_t size);
void* reallocate(void* p, std::size_t size);
void deallocate(void* p);
// Bytes in slabs currently mapped (for tests and statistics).
std::size_t mapped_bytes();
}  // namespace slab_heap

}  // namespace hongyan::xml
