// The parser's segregated heap: blocks are usable, realloc keeps contents, and slabs go
// back to the kernel when their last block is freed.
#include "xmpp/slab_heap.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace slab = hongyan::xml::slab_heap;

TEST(SlabHeap, EverySlabIsReturnedWhenAllBlocksAreFreed) {
    const std::size_t before = slab::mapped_bytes();
    std::vector<void*> blocks;
    for (int i = 0; i < 5000; ++i) {
        std::size_t size = 1 + (i * 37) % 4096;
        void* p = slab::allocate(size);
        ASSERT_NE(p, nullptr);
        std::memset(p, i & 0xff, size);
        blocks.push_back(p);
    }
    EXPECT_GT(slab::mapped_bytes(), before);
    for (void* p : blocks) slab::deallocate(p);
    EXPECT_EQ(slab::mapped_bytes(), before);
}

TEST(SlabHeap, ReallocKeepsContentsAcrossClassesAndTheGeneralHeap) {
    char* p = static_cast<char*>(slab::allocate(10));
    std::memcpy(p, "0123456789", 10);
    p = static_cast<char*>(slab::reallocate(p, 3000));
    ASSERT_EQ(std::memcmp(p, "0123456789", 10), 0);
    p = static_cast<char*>(slab::reallocate(p, 100000));  // beyond the slab classes
    ASSERT_EQ(std::memcmp(p, "0123456789", 10), 0);
    p = static_cast<char*>(slab::reallocate(p, 20));
    ASSERT_EQ(std::memcmp(p, "0123456789", 10), 0);
    slab::deallocate(p);
    slab::deallocate(nullptr);
}
