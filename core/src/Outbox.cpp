#include "switchboard/Outbox.h"

#include <iterator>

namespace switchboard {

SendOutcome Outbox::push(const SharedFrame &frame, std::size_t externalBytes)
{
    const std::size_t size = frame->bytes.size();
    if (frame->policy == ChannelPolicy::LatestOnly && m_latest) {
        auto it = m_latest->find(frame->conflationKey);
        if (it != m_latest->end()) {
            SharedFrame &slot = m_frames[it->second];
            const std::size_t bytes = m_bytes - slot->bytes.size() + size;
            if (bytes + externalBytes > m_maxBytes) {
                ++m_dropped;
                return SendResult::Dropped;
            }
            auto node = m_latest->extract(it);
            slot = frame;
            node.key() = slot->conflationKey;
            m_latest->insert(std::move(node));
            m_bytes = static_cast<std::uint32_t>(bytes); // fits: at most m_maxBytes
            SendOutcome outcome(level(externalBytes));
            outcome.conflated = 1;
            return outcome;
        }
    }
    if (empty() && frame->policy != ChannelPolicy::LatestOnly && fits(size, externalBytes)) {
        // The usual case at one message in flight: kept inside, no storage touched.
        if (!m_frames.empty()) { // evicted slots before m_head
            m_frames.clear();
            m_head = 0;
        }
        m_lone = frame;
        m_bytes += static_cast<std::uint32_t>(size); // fits() held
        return level(externalBytes);
    }
    spillLone();
    SendOutcome outcome;
    if (!fits(size, externalBytes)) {
        if (frame->policy != ChannelPolicy::DropOldest || m_maxFrames == 0
            || size + externalBytes > m_maxBytes) {
            ++m_dropped;
            return SendResult::Dropped;
        }
        while (!empty() && !fits(size, externalBytes)) {
            evictOldest();
            ++outcome.evicted;
        }
        if (empty()) {
            m_frames.clear();
            m_head = 0;
        } else {
            compact();
        }
    }
    m_frames.push_back(frame);
    m_bytes += static_cast<std::uint32_t>(size); // fits() held
    if (frame->policy == ChannelPolicy::LatestOnly) {
        if (!m_latest)
            m_latest = std::make_unique<LatestIndex>();
        m_latest->emplace(m_frames.back()->conflationKey, m_frames.size() - 1);
    }
    outcome.result = level(externalBytes);
    return outcome;
}

void Outbox::spillLone()
{
    if (m_lone)
        m_frames.push_back(std::move(m_lone)); // m_frames is empty: the lone frame stays first
}

void Outbox::evictOldest()
{
    SharedFrame &oldest = m_frames[m_head];
    m_bytes -= static_cast<std::uint32_t>(oldest->bytes.size());
    if (oldest->policy == ChannelPolicy::LatestOnly && m_latest) {
        auto it = m_latest->find(oldest->conflationKey);
        if (it != m_latest->end() && it->second == m_head)
            m_latest->erase(it);
    }
    oldest.reset();
    ++m_head;
    ++m_dropped;
}

void Outbox::compact()
{
    // Amortised O(1) per eviction: the pending frames moved are at most as many as the evictions
    // since the last compaction.
    if (m_head == 0 || std::size_t(m_head) * 2 < m_frames.size())
        return;
    m_frames.erase(m_frames.begin(), m_frames.begin() + static_cast<std::ptrdiff_t>(m_head));
    if (m_latest) {
        for (auto &entry : *m_latest)
            entry.second -= m_head;
    }
    m_head = 0;
}

void Outbox::takeAll(std::vector<SharedFrame> &out)
{
    if (m_lone) {
        out.push_back(std::move(m_lone)); // m_frames holds nothing: its storage is not touched
        m_firstRoundTaken = 1;
        m_bytes = 0;
        m_latest.reset();
        return;
    }
    if (m_head > 0) {
        m_frames.erase(m_frames.begin(), m_frames.begin() + static_cast<std::ptrdiff_t>(m_head));
        m_head = 0;
    }
    if (out.empty()) {
        out.swap(m_frames); // no per-frame work, and the frames' storage is not written
    } else {
        out.insert(out.end(), std::make_move_iterator(m_frames.begin()), std::make_move_iterator(m_frames.end()));
        m_frames.clear();
    }
    // Do not keep a burst-sized buffer for an idle session, nor the first round's.
    if (m_frames.capacity() > kRetainedCapacity || !m_firstRoundTaken)
        std::vector<SharedFrame>().swap(m_frames);
    m_firstRoundTaken = 1;
    m_bytes = 0;
    m_latest.reset();
}

bool Outbox::releaseStorage()
{
    if (!empty() || m_frames.capacity() == 0)
        return false;
    std::vector<SharedFrame>().swap(m_frames);
    m_head = 0;
    return true;
}

} // namespace switchboard
