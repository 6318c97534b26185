//! The order in which a mixed cell's requests take its prompts: every pass
//! through the n prompts is a fresh shuffle (Fisher–Yates) drawn from the
//! cell's seed and the pass number, so request i always gets the same prompt
//! for a given seed, whichever worker sends it, and every prompt is sent
//! equally often (within one pass).

use crate::rng::SplitMix64;
use std::sync::Mutex;

/// Request index → prompt index, for one batch (warmups or measured).
pub(crate) struct PromptOrder {
    seed: u64,
    prompts: usize,
    /// The pass last shuffled and its permutation (workers take requests in
    /// index order, so passes change rarely).
    pass: Mutex<(u64, Vec<usize>)>,
}

impl PromptOrder {
    /// `prompts` ≥ 1; `stream` separates the warmup order from the measured one.
    pub(crate) fn new(seed: u64, stream: u64, prompts: usize) -> PromptOrder {
        let seed = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
        let prompts = prompts.max(1);
        PromptOrder {
            seed,
            prompts,
            pass: Mutex::new((0, shuffled(seed, 0, prompts))),
        }
    }

    /// The prompt index of request `index`.
    pub(crate) fn pick(&self, index: usize) -> usize {
        let pass = (index / self.prompts) as u64;
        let at = index % self.prompts;
        // A poisoned lock only means another worker panicked mid-shuffle;
        // the permutation is rebuilt below whenever it is not this pass's.
        let mut guard = self.pass.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 != pass || guard.1.len() != self.prompts {
            *guard = (pass, shuffled(self.seed, pass, self.prompts));
        }
        guard.1[at]
    }
}

fn shuffled(seed: u64, pass: u64, n: usize) -> Vec<usize> {
    let mut random = SplitMix64::new(seed ^ pass.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (random.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pass_sends_every_prompt_once() {
        let order = PromptOrder::new(7, 0, 5);
        for pass in 0..4 {
            let mut seen: Vec<usize> = (0..5).map(|i| order.pick(pass * 5 + i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn the_order_reproduces_and_depends_on_the_seed_and_stream() {
        let picks = |seed, stream| {
            let order = PromptOrder::new(seed, stream, 6);
            (0..24).map(|i| order.pick(i)).collect::<Vec<_>>()
        };
        assert_eq!(picks(1, 0), picks(1, 0));
        assert_ne!(picks(1, 0), picks(2, 0));
        assert_ne!(picks(1, 0), picks(1, 1));
        // Passes differ from each other (not one shuffle repeated).
        let p = picks(1, 0);
        assert!(p[0..6] != p[6..12] || p[6..12] != p[12..18], "{p:?}");
        // Out-of-order picks give the same answer as in-order ones.
        let order = PromptOrder::new(1, 0, 6);
        assert_eq!(order.pick(20), p[20]);
        assert_eq!(order.pick(3), p[3]);
    }

    #[test]
    fn one_prompt_is_always_prompt_zero() {
        let order = PromptOrder::new(3, 0, 1);
        assert!((0..10).all(|i| order.pick(i) == 0));
    }
}
