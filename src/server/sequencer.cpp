#include "server/sequencer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hongyan {

namespace {
// The job the calling thread runs, if any, and whose.
struct Running {
    const Sequencer* owner = nullptr;
    const Sequencer::Keys* keys = nullptr;
    bool barrier = false;
};
thread_local Running running;
}  // namespace

std::size_t Sequencer::slot(const Node* n, std::string_view key) {
    auto it = std::lower_bound(n->keys.begin(), n->keys.end(), key);
    return static_cast<std::size_t>(it - n->keys.begin());
}

Sequencer::~Sequencer() {
    // Jobs never run are dropped with their nodes (only at shutdown, after drain()).
    std::lock_guard lock(mu_);
    std::vector<Node*> all(held_.begin(), held_.end());
    for (auto& [key, q] : queues_)
        for (Node* n = q.head; n; n = n->next[slot(n, key)])
            if (std::find(all.begin(), all.end(), n) == all.end()) all.push_back(n);
    for (auto* n : all) delete n;
}

void Sequencer::post(Keys keys, Job job, std::string_view what) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    Node* n = nullptr;
    bool ready = false;
    {
        std::lock_guard lock(mu_);
        if (stopped_) return;  // `job` goes, outside the lock
        n = new Node{std::move(job), std::move(keys), std::string(what), 0, false, {}};
        ++pending_;
        if (!held_.empty() || barrier_running_)
            held_.push_back(n);  // after the barrier ahead of it
        else
            ready = admit(n);
    }
    if (ready) dispatch({n});
}

void Sequencer::post_barrier(Job job, std::string_view what) {
    std::vector<Node*> ready;
    {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        auto* n = new Node{std::move(job), {}, std::string(what), 0, true, {}};
        ++pending_;
        held_.push_back(n);
        if (!barrier_running_ && admitted_ == 0) release_held(ready);
    }
    dispatch(ready);
}

bool Sequencer::admit(Node* n) {
    n->next.assign(n->keys.size(), nullptr);
    for (const auto& k : n->keys) {
        auto& q = queues_[k];
        if (q.tail) {
            ++n->blockers;
            q.tail->next[slot(q.tail, k)] = n;
        } else {
            q.head = n;
        }
        q.tail = n;
    }
    ++admitted_;
    return n->blockers == 0;
}

void Sequencer::release_held(std::vector<Node*>& ready) {
    while (!held_.empty()) {
        Node* n = held_.front();
        if (n->barrier) {
            if (admitted_ > 0) return;  // once those have finished
            held_.pop_front();
            barrier_running_ = true;
            ready.push_back(n);
            return;
        }
        held_.pop_front();
        if (admit(n)) ready.push_back(n);
    }
}

void Sequencer::dispatch(const std::vector<Node*>& ready) {
    for (auto* n : ready) boost::asio::post(pool_, [this, n] { execute(n); });
}

void Sequencer::execute(Node* n) {
    const Running outer = running;
    running = Running{this, &n->keys, n->barrier};
    try {
        n->job();
    } catch (const std::exception& e) {
        spdlog::error("{} failed: {}", n->what, e.what());
    } catch (...) {
        spdlog::error("{} failed", n->what);
    }
    running = outer;
    n->job = nullptr;  // what it captured goes before the next job on its keys runs

    std::vector<Node*> ready;
    {
        std::lock_guard lock(mu_);
        if (n->barrier) {
            barrier_running_ = false;
        } else {
            for (std::size_t i = 0; i < n->keys.size(); ++i) {
                auto it = queues_.find(n->keys[i]);
                Node* after = n->next[i];  // it was at the head of each of its queues
                if (!after) {
                    queues_.erase(it);
                } else {
                    it->second.head = after;
                    if (--after->blockers == 0) ready.push_back(after);
                }
            }
            --admitted_;
        }
        if (!barrier_running_ && admitted_ == 0) release_held(ready);
        // Under the lock: drain() may return, and the sequencer go, once it is released.
        if (--pending_ == 0) idle_.notify_all();
    }
    delete n;
    dispatch(ready);
}

bool Sequencer::holds(std::string_view key) const {
    if (running.owner != this) return false;
    if (running.barrier) return true;
    return std::binary_search(running.keys->begin(), running.keys->end(), key);
}

std::size_t Sequencer::pending() const {
    std::lock_guard lock(mu_);
    return pending_;
}

void Sequencer::stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
}

void Sequencer::drain() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return pending_ == 0; });
}

}  // namespace hongyan
