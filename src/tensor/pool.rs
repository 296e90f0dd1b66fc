//! Size-keyed buffer pool: training steps allocate the same shapes every step, so
//! buffers released at the end of one step are handed out again in the next. A pool
//! bound to a GPU is also that device's caching allocator: device buffers go back to
//! it, and device memory is freed only when the pool is trimmed or dropped (never on
//! the hot path). It never decides what a buffer holds.

use crate::cuda::Gpu;
use crate::tensor::Device;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counters that show whether steady-state steps allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers that had to come from the system (or device) allocator.
    pub fresh: u64,
    /// Buffers handed out again from the pool.
    pub reused: u64,
    /// Floats currently parked in the pool (host and device).
    pub parked_floats: usize,
}

#[derive(Default)]
struct PoolInner {
    free: HashMap<usize, Vec<Vec<f32>>>,
    gpu_free: HashMap<usize, Vec<u64>>,
    stats: PoolStats,
    gpu: Option<Arc<Gpu>>,
}

impl PoolInner {
    fn release_device_memory(&mut self) {
        if let Some(g) = &self.gpu {
            for (len, ptrs) in self.gpu_free.drain() {
                for p in ptrs {
                    g.driver().free(p);
                    self.stats.parked_floats -= len;
                }
            }
        }
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.release_device_memory();
    }
}

/// A shared handle to a buffer pool; cloning shares the same pool.
#[derive(Clone, Default)]
pub struct Pool {
    inner: Arc<Mutex<PoolInner>>,
    gpu: Option<Arc<Gpu>>,
}

impl Pool {
    /// A new, empty host pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A pool for `device`: host buffers always, device buffers on a GPU.
    pub fn on(device: Device) -> Result<Self> {
        match device {
            Device::Cpu => Ok(Pool::new()),
            d => {
                let gpu = crate::cuda::open(d)?;
                Ok(Pool {
                    inner: Arc::new(Mutex::new(PoolInner {
                        free: HashMap::new(),
                        gpu_free: HashMap::new(),
                        stats: PoolStats::default(),
                        gpu: Some(gpu.clone()),
                    })),
                    gpu: Some(gpu),
                })
            }
        }
    }

    /// The device new tensors of this pool live on.
    pub fn device(&self) -> Device {
        self.gpu.as_ref().map_or(Device::Cpu, |g| g.device())
    }

    /// The GPU this pool allocates on, if any.
    pub fn gpu(&self) -> Option<&Arc<Gpu>> {
        self.gpu.as_ref()
    }

    /// A buffer of `len` floats with unspecified contents (callers overwrite it).
    pub fn take(&self, len: usize) -> Buffer {
        let mut inner = self.inner.lock().expect("pool lock poisoned");
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

    /// A device buffer of `len` floats with unspecified contents; errors on a host pool
    /// or when the device is out of memory.
    pub fn take_gpu(&self, len: usize) -> Result<GpuBuffer> {
        let Some(gpu) = &self.gpu else {
            anyhow::bail!("a device buffer was asked of a host pool (a bug: the op should have run on the CPU)");
        };
        let mut inner = self.inner.lock().expect("pool lock poisoned");
        let ptr = match inner.gpu_free.get_mut(&len).and_then(|v| v.pop()) {
            Some(p) => {
                inner.stats.reused += 1;
                inner.stats.parked_floats -= len;
                p
            }
            None => {
                inner.stats.fresh += 1;
                match gpu.driver().alloc(len * 4) {
                    Ok(p) => p,
                    Err(e) => {
                        // Parked buffers of other sizes may be what fills the device.
                        inner.release_device_memory();
                        drop(inner);
                        gpu.driver().alloc(len * 4).map_err(|_| e)?
                    }
                }
            }
        };
        Ok(GpuBuffer {
            ptr,
            len,
            gpu: gpu.clone(),
            pool: Some(self.clone()),
        })
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        self.inner.lock().expect("pool lock poisoned").stats
    }

    /// Drops every parked buffer (memory goes back to the system and the device).
    pub fn trim(&self) {
        let mut inner = self.inner.lock().expect("pool lock poisoned");
        let host: usize = inner.free.iter().map(|(l, v)| l * v.len()).sum();
        inner.free.clear();
        inner.stats.parked_floats -= host;
        inner.release_device_memory();
    }

    fn give_back(&self, vec: Vec<f32>) {
        if vec.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().expect("pool lock poisoned");
        inner.stats.parked_floats += vec.len();
        inner.free.entry(vec.len()).or_default().push(vec);
    }

    fn give_back_gpu(&self, ptr: u64, len: usize) {
        let mut inner = self.inner.lock().expect("pool lock poisoned");
        inner.stats.parked_floats += len;
        inner.gpu_free.entry(len).or_default().push(ptr);
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

/// Device storage of a tensor: `len` floats at a device address; returns to its pool
/// (or is freed) when dropped.
pub struct GpuBuffer {
    ptr: u64,
    len: usize,
    gpu: Arc<Gpu>,
    pool: Option<Pool>,
}

impl GpuBuffer {
    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.ptr
    }

    /// Number of floats.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no floats.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device.
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// The pool this buffer returns to, if any.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    /// A device copy from the same pool.
    pub fn try_clone(&self) -> Result<GpuBuffer> {
        let b = match &self.pool {
            Some(p) => p.take_gpu(self.len)?,
            None => GpuBuffer {
                ptr: self.gpu.driver().alloc(self.len * 4)?,
                len: self.len,
                gpu: self.gpu.clone(),
                pool: None,
            },
        };
        self.gpu.driver().dtod(b.ptr, self.ptr, self.len * 4)?;
        Ok(b)
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        match self.pool.take() {
            Some(p) => p.give_back_gpu(self.ptr, self.len),
            None => self.gpu.driver().free(self.ptr),
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
