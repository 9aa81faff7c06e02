#include "server/c2s/output_queue.hpp"

#include "server/net/buffer_pool.hpp"

namespace hongyan::c2s {

namespace {
using UnitVectors = net::BufferPool<std::vector<OutUnit>, 1024>;
}  // namespace

void StanzaListSource::next(std::size_t budget, std::function<void(BulkBatch)> deliver) {
    BulkBatch batch;
    std::size_t bytes = 0;
    while (next_ < stanzas_.size() && (batch.entries.empty() || bytes < budget)) {
        bytes += stanzas_[next_]->size();
        batch.entries.push_back(OutUnit::stanza(std::move(stanzas_[next_++])));
    }
    batch.last = next_ == stanzas_.size();
    deliver(std::move(batch));
}

void OutputQueue::push_segment(Segment s) {
    using SegmentVectors = net::BufferPool<std::vector<Segment>, 16>;
    if (segments_.capacity() == 0) segments_ = SegmentVectors::take();
    segments_.push_back(std::move(s));
}

void OutputQueue::pop_front() {
    using SegmentVectors = net::BufferPool<std::vector<Segment>, 16>;
    UnitVectors::give(std::move(segments_.front().entries));
    segments_.erase(segments_.begin());
    if (segments_.empty()) {
        SegmentVectors::give(std::move(segments_));
        segments_ = std::vector<Segment>();
    }
}

void OutputQueue::push(OutUnit unit, WriteDone done) {
    if (segments_.empty() || segments_.back().source) {
        Segment seg;
        seg.entries = UnitVectors::take(32);
        push_segment(std::move(seg));
    }
    bytes_ += unit.bytes().size();
    if (done) unit.done = std::make_unique<WriteDone>(std::move(done));
    segments_.back().entries.push_back(std::move(unit));
}

void OutputQueue::add_source(std::shared_ptr<BulkSource> source) {
    Segment s;
    s.source = std::move(source);
    push_segment(std::move(s));
}

OutputQueue::Next OutputQueue::take(std::vector<OutUnit>& out, std::size_t max_bytes,
                                    std::shared_ptr<BulkSource>* source) {
    std::size_t taken = 0;
    while (!segments_.empty()) {
        Segment& front = segments_.front();
        while (front.head < front.entries.size() && (taken == 0 || taken < max_bytes)) {
            OutUnit& e = front.entries[front.head++];
            std::size_t n = e.bytes().size();
            taken += n;
            (front.source ? bulk_bytes_ : bytes_) -= n;
            out.push_back(std::move(e));
        }
        if (front.head < front.entries.size()) return Next::units;  // max_bytes reached
        front.entries.clear();
        front.head = 0;
        if (front.source && !front.last) {
            if (!out.empty()) return Next::units;
            if (front.requested) return Next::nothing;
            front.requested = true;
            if (source) *source = front.source;
            return Next::pull;
        }
        pop_front();
        if (taken >= max_bytes) break;
    }
    return out.empty() ? Next::nothing : Next::units;
}

void OutputQueue::filled(const BulkSource* source, BulkBatch batch) {
    for (auto& s : segments_) {
        if (s.source.get() != source) continue;
        s.requested = false;
        s.last = batch.last;
        for (auto& e : batch.entries) {
            bulk_bytes_ += e.bytes().size();
            s.entries.push_back(std::move(e));
        }
        return;
    }
    // The source was dropped meanwhile (the session ended): nothing of it was written.
    for (auto& e : batch.entries) e.finish(false);
}

void OutputQueue::clear() {
    auto segments = std::move(segments_);
    segments_ = std::vector<Segment>();
    bytes_ = bulk_bytes_ = 0;
    for (auto& s : segments) {
        for (std::size_t i = s.head; i < s.entries.size(); ++i) s.entries[i].finish(false);
        UnitVectors::give(std::move(s.entries));
    }
}

}  // namespace hongyan::c2s

namespace hongyan::c2s {

void OutputQueue::drop_sources() {
    std::vector<Segment> kept;
    for (auto& s : segments_) {
        if (!s.source) {
            kept.push_back(std::move(s));
            continue;
        }
        for (std::size_t i = s.head; i < s.entries.size(); ++i) {
            bulk_bytes_ -= s.entries[i].bytes().size();
            s.entries[i].finish(false);
        }
    }
    // Runs of pushed units that were on either side of a source are one run now.
    segments_.clear();
    for (auto& s : kept) {
        if (segments_.empty()) {
            segments_.push_back(std::move(s));
            continue;
        }
        auto& back = segments_.back();
        for (std::size_t i = s.head; i < s.entries.size(); ++i)
            back.entries.push_back(std::move(s.entries[i]));
    }
}

void OutputQueue::append(OutputQueue&& other) {
    if (other.segments_.empty()) return;
    if (segments_.empty()) {
        segments_ = std::move(other.segments_);
    } else {
        for (auto& s : other.segments_) segments_.push_back(std::move(s));
        other.segments_.clear();
    }
    other.segments_ = std::vector<Segment>();
    bytes_ += other.bytes_;
    bulk_bytes_ += other.bulk_bytes_;
    other.bytes_ = other.bulk_bytes_ = 0;
}

std::vector<OutUnit> OutputQueue::take_units() {
    drop_sources();
    std::vector<OutUnit> out;
    for (auto& s : segments_)
        for (std::size_t i = s.head; i < s.entries.size(); ++i)
            out.push_back(std::move(s.entries[i]));
    segments_.clear();
    segments_ = std::vector<Segment>();
    bytes_ = 0;
    return out;
}

}  // namespace hongyan::c2s
