//! Size-keyed buffer pool: training steps allocate the same shapes every step, so
//! buffers released at the end of one step are handed out again in the next.
//! Owns only host memory; it never decides what a buffer holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counters that show whether steady-state steps allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers that had to come from the system allocator.
    pub fresh: u64,
    /// Buffers handed out again from the pool.
    pub reused: u64,
    /// Floats currently parked in the pool.
    pub parked_floats: usize,
}

#[derive(Default)]
struct PoolInner {
    free: HashMap<usize, Vec<Vec<f32>>>,
    stats: PoolStats,
}

/// A shared handle to a buffer pool; cloning shares the same pool.
#[derive(Clone, Default)]
pub struct Pool(Arc<Mutex<PoolInner>>);

impl Pool {
    /// A new, empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer of `len` floats with unspecified contents (callers overwrite it).
    pub fn take(&self, len: usize) -> Buffer {
        let mut inner = self.0.lock().expect("pool lock poisoned");
        let vec = match inner.free.get_mut(&len).and_then(|v| v.pop()) {
            Some(v) => {
                inner.stats.reused += 1;
                inner.stats.parked_floats -= len;
                v
            }
            None => {
                inner.stats.fresh += 1;
                vec![0.0; len]
            }
        };
        Buffer {
            vec,
            pool: Some(self.clone()),
        }
    }

    /// A zero-filled buffer of `len` floats.
    pub fn zeros(&self, len: usize) -> Buffer {
        let mut b = self.take(len);
        b.vec.fill(0.0);
        b
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        self.0.lock().expect("pool lock poisoned").stats
    }

    /// Drops every parked buffer (memory goes back to the system).
    pub fn trim(&self) {
        let mut inner = self.0.lock().expect("pool lock poisoned");
        inner.free.clear();
        inner.stats.parked_floats = 0;
    }

    fn give_back(&self, vec: Vec<f32>) {
        if vec.is_empty() {
            return;
        }
        let mut inner = self.0.lock().expect("pool lock poisoned");
        inner.stats.parked_floats += vec.len();
        inner.free.entry(vec.len()).or_default().push(vec);
    }
}

/// Host storage of a tensor; returns itself to its pool when dropped.
pub struct Buffer {
    vec: Vec<f32>,
    pool: Option<Pool>,
}

impl Buffer {
    /// Wraps a vector that belongs to no pool.
    pub fn unpooled(vec: Vec<f32>) -> Self {
        Buffer { vec, pool: None }
    }

    /// The floats.
    pub fn as_slice(&self) -> &[f32] {
        &self.vec
    }

    /// The floats, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.vec
    }

    /// Takes the vector out, detaching it from the pool.
    pub fn into_vec(mut self) -> Vec<f32> {
        self.pool = None;
        std::mem::take(&mut self.vec)
    }

    /// The pool this buffer returns to, if any.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Self {
        match &self.pool {
            Some(p) => {
                let mut b = p.take(self.vec.len());
                b.vec.copy_from_slice(&self.vec);
                b
            }
            None => Buffer::unpooled(self.vec.clone()),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.give_back(std::mem::take(&mut self.vec));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_buffers_are_reused_by_size() {
        let pool = Pool::new();
        let a = pool.take(100);
        let b = pool.take(50);
        drop(a);
        drop(b);
        let _c = pool.take(100);
        let _d = pool.take(50);
        let _e = pool.take(100);
        let s = pool.stats();
        assert_eq!(s.fresh, 3);
        assert_eq!(s.reused, 2);
    }
}
