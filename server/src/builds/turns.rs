//! The builders, taken in turns by client address. While every builder is busy, the next one
//! that frees up goes to the waiting address served longest ago (one never served comes
//! first), and within an address to its oldest waiting build. So one address with a pile of
//! builds waiting (a script's many learners, or a whole school) delays a build from another
//! address by about one build per address ahead of it, not by its whole pile.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Addresses whose last turn is remembered; beyond it the longest-ago ones are forgotten
/// (an address that has not been served in that many turns loses nothing by it).
const REMEMBERED_ADDRESSES: usize = 4096;

pub struct Turns {
    state: Mutex<State>,
}

struct State {
    free: usize,
    next_seq: u64,
    waiting: VecDeque<Waiter>,
    /// address → the turn it was last given (a counter, not a time).
    served: HashMap<String, u64>,
    turns_given: u64,
}

struct Waiter {
    seq: u64,
    client: String,
    wake: oneshot::Sender<()>,
}

/// A builder, held until this is dropped.
pub struct Turn {
    turns: Arc<Turns>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.turns.lock().hand_on();
    }
}

/// A place in line (or a builder at once). Dropping it before its turn leaves the line; a
/// turn given to it meanwhile goes to the next in line.
pub struct Entry {
    turns: Arc<Turns>,
    seq: u64,
    /// Set while waiting for the turn.
    wake: Option<oneshot::Receiver<()>>,
    /// A builder is this entry's, not yet made a [`Turn`] (given at once).
    holds: bool,
    at_once: bool,
}

impl Turns {
    pub fn new(builders: usize) -> Arc<Self> {
        Arc::new(Turns {
            state: Mutex::new(State {
                free: builders.max(1),
                next_seq: 0,
                waiting: VecDeque::new(),
                served: HashMap::new(),
                turns_given: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Get in line for a builder as `client` (the address key the admission layer counts).
    pub fn enter(self: &Arc<Self>, client: &str) -> Entry {
        let mut state = self.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        let mut entry = Entry {
            turns: self.clone(),
            seq,
            wake: None,
            holds: false,
            at_once: false,
        };
        if state.free > 0 && state.waiting.is_empty() {
            state.free -= 1;
            state.give_turn(client);
            entry.at_once = true;
            entry.holds = true;
        } else {
            let (wake, woken) = oneshot::channel();
            state.waiting.push_back(Waiter {
                seq,
                client: client.to_string(),
                wake,
            });
            entry.wake = Some(woken);
        }
        entry
    }

    /// Builds waiting for a builder.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

impl State {
    fn give_turn(&mut self, client: &str) {
        self.turns_given += 1;
        self.served.insert(client.to_string(), self.turns_given);
        if self.served.len() > REMEMBERED_ADDRESSES {
            let keep_after = self
                .turns_given
                .saturating_sub(REMEMBERED_ADDRESSES as u64 / 2);
            let waiting: Vec<String> = self.waiting.iter().map(|w| w.client.clone()).collect();
            self.served
                .retain(|address, turn| *turn > keep_after || waiting.contains(address));
        }
    }

    /// Index in `waiting` of whoever is next: the address served longest ago, its oldest build.
    fn next_index(waiting: &[&Waiter], served: &HashMap<String, u64>) -> Option<usize> {
        waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| (served.get(&w.client).copied().unwrap_or(0), w.seq))
            .map(|(i, _)| i)
    }

    /// A builder came free: give it to the next in line, or keep it free.
    fn hand_on(&mut self) {
        loop {
            let next = {
                let waiting: Vec<&Waiter> = self.waiting.iter().collect();
                Self::next_index(&waiting, &self.served)
            };
            let Some(index) = next else {
                self.free += 1;
                return;
            };
            let Some(waiter) = self.waiting.remove(index) else {
                continue;
            };
            self.give_turn(&waiter.client);
            if waiter.wake.send(()).is_ok() {
                return;
            }
        }
    }

    /// How many would be served before the waiter `seq`, if nothing else changed.
    fn ahead_of(&self, seq: u64) -> usize {
        if !self.waiting.iter().any(|w| w.seq == seq) {
            // Its turn came (or it left).
            return 0;
        }
        let mut served = self.served.clone();
        let mut left: Vec<&Waiter> = self.waiting.iter().collect();
        let mut turn = self.turns_given;
        let mut ahead = 0;
        while let Some(index) = Self::next_index(&left, &served) {
            let waiter = left.remove(index);
            if waiter.seq == seq {
                return ahead;
            }
            turn += 1;
            served.insert(waiter.client.clone(), turn);
            ahead += 1;
        }
        ahead
    }
}

impl Entry {
    /// Did it get a builder without waiting?
    pub fn at_once(&self) -> bool {
        self.at_once
    }

    /// Builds that would get a builder before this one, as things stand.
    pub fn ahead(&self) -> usize {
        if self.wake.is_none() {
            return 0;
        }
        self.turns.lock().ahead_of(self.seq)
    }

    /// Has it been given its builder (not yet taken with [`Entry::wait`])?
    #[cfg(test)]
    fn given(&self) -> bool {
        self.holds
            || (self.wake.is_some() && !self.turns.lock().waiting.iter().any(|w| w.seq == self.seq))
    }

    /// Wait for the turn; the builder is held until the [`Turn`] is dropped.
    pub async fn wait(mut self) -> Turn {
        if let Some(woken) = self.wake.as_mut() {
            if woken.await.is_err() {
                // Only a dropped line loses its sender, and the line lives as long as we do.
                std::future::pending::<()>().await;
            }
            self.wake = None;
        }
        self.holds = false;
        Turn {
            turns: self.turns.clone(),
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.holds {
            // Given a builder at once and dropped before using it.
            self.turns.lock().hand_on();
            return;
        }
        let Some(mut woken) = self.wake.take() else {
            // Its turn was taken: the Turn gives the builder back.
            return;
        };
        let mut state = self.turns.lock();
        if woken.try_recv().is_ok() {
            // Given a turn it will never use: hand it on.
            state.hand_on();
        } else {
            state.waiting.retain(|w| w.seq != self.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn granted(entry: Entry) -> Option<Turn> {
        tokio::time::timeout(Duration::from_millis(50), entry.wait())
            .await
            .ok()
    }

    /// One builder busy; address A queues four builds, then B queues one: B's build is
    /// second in line, not fifth, and A's keep their order among themselves.
    #[tokio::test]
    async fn a_pile_from_one_address_does_not_hold_back_another() {
        let turns = Turns::new(1);
        let holder = turns.enter("a");
        assert!(holder.at_once());
        let mut line: Vec<(&str, Entry)> = (0..4).map(|_| ("a", turns.enter("a"))).collect();
        line.push(("b", turns.enter("b")));
        let ahead: Vec<usize> = line.iter().map(|(_, e)| e.ahead()).collect();
        // a was served last (the holder), so b goes first, then a's in order.
        assert_eq!(ahead, vec![1, 2, 3, 4, 0]);
        let mut order = Vec::new();
        let mut current = holder.wait().await;
        let mut pending: Vec<(usize, &str, Entry)> = line
            .into_iter()
            .enumerate()
            .map(|(i, (c, e))| (i, c, e))
            .collect();
        while !pending.is_empty() {
            drop(current);
            // Exactly one of the waiting gets the builder.
            let mut next = None;
            let mut rest = Vec::new();
            for (i, client, entry) in pending {
                if next.is_none() && entry.given() {
                    next = Some((i, client, granted(entry).await.expect("its turn")));
                } else {
                    rest.push((i, client, entry));
                }
            }
            let (i, client, turn) = next.expect("someone is next");
            order.push((i, client));
            current = turn;
            pending = rest;
        }
        assert_eq!(
            order,
            vec![(4, "b"), (0, "a"), (1, "a"), (2, "a"), (3, "a")]
        );
    }

    /// Three addresses waiting with 3, 2 and 1 builds take turns: a b c a b a.
    #[tokio::test]
    async fn waiting_addresses_take_turns() {
        let turns = Turns::new(1);
        let first = turns.enter("x").wait().await;
        let clients = ["a", "a", "a", "b", "b", "c"];
        let entries: Vec<Entry> = clients.iter().map(|c| turns.enter(c)).collect();
        let mut by_position: Vec<(usize, &str)> = entries
            .iter()
            .zip(clients)
            .map(|(e, c)| (e.ahead(), c))
            .collect();
        by_position.sort();
        let order: Vec<&str> = by_position.iter().map(|(_, c)| *c).collect();
        assert_eq!(order, vec!["a", "b", "c", "a", "b", "a"]);
        // And the builder really goes that way round.
        drop(first);
        let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
        let mut served = Vec::new();
        for _ in 0..clients.len() {
            let index = entries
                .iter()
                .position(|e| e.as_ref().is_some_and(Entry::given))
                .expect("one is next");
            let turn = granted(entries[index].take().expect("entry"))
                .await
                .expect("given");
            served.push(clients[index]);
            drop(turn);
        }
        assert_eq!(served, order);
    }

    /// A build that leaves the line (its learner submitted again) frees its place, and a turn
    /// given to a build that is dropped before it takes it goes to the next one: no builder
    /// is ever lost.
    #[tokio::test]
    async fn leaving_the_line_loses_no_builder() {
        let turns = Turns::new(1);
        let holder = turns.enter("a").wait().await;
        let gone = turns.enter("b");
        let next = turns.enter("c");
        assert_eq!(turns.waiting(), 2);
        drop(gone);
        assert_eq!(turns.waiting(), 1);
        assert_eq!(next.ahead(), 0);
        // A turn handed to `next`, which is then dropped without waiting for it.
        drop(holder);
        drop(next);
        // Given a builder at once and dropped unused: it is free again.
        drop(turns.enter("z"));
        let later = turns.enter("d");
        assert!(later.at_once(), "the builder came back free");
        let turn = later.wait().await;
        // Two builders: both used at once, a third waits, and gets one when either ends.
        let two = Turns::new(2);
        let one = two.enter("a").wait().await;
        let other = two.enter("a").wait().await;
        let third = two.enter("b");
        assert!(!third.at_once());
        drop(other);
        assert!(granted(third).await.is_some());
        drop((one, turn));
    }
}
