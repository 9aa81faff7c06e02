// A session's output: stanzas as counted units, each serialised once, written in order by
// whichever connection carries the session. What the server generates in bulk (stored
// offline messages, later archive pages) comes from a BulkSource that is asked for more
// only once everything queued before it has been written, so a large backlog goes out as
// the client reads instead of filling memory (and the queue limit) at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "server/net/transport.hpp"

namespace hongyan::c2s {

using net::OutUnit;
// Runs once a unit was written to the connection (true) or the session ended first (false).
using WriteDone = OutUnit::Done;

// What a bulk source hands back for one request.
struct BulkBatch {
    std::vector<OutUnit> entries;
    bool last = false;  // the source has nothing more
};

class BulkSource {
  public:
    virtual ~BulkSource() = default;
    // Produces about `budget` bytes (at least one unit, unless it has nothing left) and
    // calls `deliver` once, from any thread: the session takes it on its own executor.
    virtual void next(std::size_t budget, std::function<void(BulkBatch)> deliver) = 0;
};

// Stanzas the server already has in memory (the presence of every online contact at
// login, the pushes of a versioned roster fetch), handed out a budget at a time as the
// client reads, like any other bulk source.
class StanzaListSource final : public BulkSource {
  public:
    explicit StanzaListSource(std::vector<std::shared_ptr<const std::string>> stanzas)
        : stanzas_(std::move(stanzas)) {}
    void next(std::size_t budget, std::function<void(BulkBatch)> deliver) override;

  private:
    std::vector<std::shared_ptr<const std::string>> stanzas_;
    std::size_t next_ = 0;
};

class OutputQueue {
  public:
    enum class Next {
        units,    // `out` holds units to write
        nothing,  // nothing to write now (empty, or a source is producing)
        pull,     // `source` must be asked for more before anything can be written
    };

    // Appends a unit after everything queued (and every source added) before it.
    void push(OutUnit unit, WriteDone done = {});
    // Output from `source` goes after everything queued before this call and before
    // everything queued after it.
    void add_source(std::shared_ptr<BulkSource> source);
    // Takes up to about `max_bytes` (at least one unit) of what can be written now.
    Next take(std::vector<OutUnit>& out, std::size_t max_bytes,
              std::shared_ptr<BulkSource>* source);
    // A source's answer to a pull.
    void filled(const BulkSource* source, BulkBatch batch);

    // Bytes of the pushed units waiting: what the queue limit applies to. Bulk output is
    // produced at the client's pace and not counted (a source's batch, produced but not
    // written yet, is in bulk_bytes()).
    std::size_t bytes() const { return bytes_; }
    std::size_t bulk_bytes() const { return bulk_bytes_; }
    bool empty() const { return segments_.empty(); }
    // Every waiting unit's `done(false)`; sources are dropped.
    void clear();
    // Drops the bulk sources and what they produced that is not written yet (`done(false)`):
    // the stream is ending, and what they hold stays where it came from.
    void drop_sources();
    // Moves everything `other` holds (units and sources) after what this queue holds: a
    // resumed stream (XEP-0198) takes over the queue of the session it resumes.
    void append(OutputQueue&& other);
    // Drops the sources (as drop_sources()) and hands out every pushed unit not written,
    // in order: what a session that ends without its client's acknowledgement still held.
    std::vector<OutUnit> take_units();

  private:
    struct Segment {
        std::shared_ptr<BulkSource> source;  // null: a run of pushed units
        bool requested = false;
        bool last = false;
        std::vector<OutUnit> entries;
        std::size_t head = 0;
    };
    // Storage comes from and goes back to a pool of the thread (net/buffer_pool.hpp): an
    // empty queue holds none.
    void pop_front();
    void push_segment(Segment s);

    std::vector<Segment> segments_;
    std::size_t bytes_ = 0;
    std::size_t bulk_bytes_ = 0;
};

}  // namespace hongyan::c2s
