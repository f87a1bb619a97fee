//! A small, deterministic path tracer: diffuse and mirror spheres on a
//! ground plane under a sky, rendered to an 8-bit RGB PNG. The same
//! arguments always give the same bytes, so results can be checked.

mod png;

pub use png::encode_png;

#[derive(Clone, Copy)]
struct V(f64, f64, f64);

impl V {
    fn add(self, o: V) -> V {
        V(self.0 + o.0, self.1 + o.1, self.2 + o.2)
    }
    fn sub(self, o: V) -> V {
        V(self.0 - o.0, self.1 - o.1, self.2 - o.2)
    }
    fn mul(self, k: f64) -> V {
        V(self.0 * k, self.1 * k, self.2 * k)
    }
    fn hadamard(self, o: V) -> V {
        V(self.0 * o.0, self.1 * o.1, self.2 * o.2)
    }
    fn dot(self, o: V) -> f64 {
        self.0 * o.0 + self.1 * o.1 + self.2 * o.2
    }
    fn norm(self) -> V {
        self.mul(1.0 / self.dot(self).sqrt())
    }
}

struct Sphere {
    center: V,
    radius: f64,
    color: V,
    mirror: bool,
}

/// xorshift64*: fast, deterministic, good enough for sampling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn in_unit_sphere(&mut self) -> V {
        loop {
            let p = V(
                self.next() * 2.0 - 1.0,
                self.next() * 2.0 - 1.0,
                self.next() * 2.0 - 1.0,
            );
            if p.dot(p) < 1.0 {
                return p;
            }
        }
    }
}

fn scene() -> Vec<Sphere> {
    vec![
        Sphere {
            center: V(0.0, -1000.5, -1.0),
            radius: 1000.0,
            color: V(0.55, 0.6, 0.5),
            mirror: false,
        },
        Sphere {
            center: V(0.0, 0.0, -1.2),
            radius: 0.5,
            color: V(0.85, 0.3, 0.25),
            mirror: false,
        },
        Sphere {
            center: V(-1.05, 0.0, -1.4),
            radius: 0.5,
            color: V(0.9, 0.9, 0.9),
            mirror: true,
        },
        Sphere {
            center: V(1.05, -0.15, -1.0),
            radius: 0.35,
            color: V(0.25, 0.45, 0.85),
            mirror: false,
        },
    ]
}

fn hit(spheres: &[Sphere], origin: V, dir: V) -> Option<(f64, &Sphere)> {
    let mut best: Option<(f64, &Sphere)> = None;
    for s in spheres {
        let oc = origin.sub(s.center);
        let b = oc.dot(dir);
        let c = oc.dot(oc) - s.radius * s.radius;
        let disc = b * b - c;
        if disc < 0.0 {
            continue;
        }
        let t = -b - disc.sqrt();
        if t > 1e-4 && best.is_none_or(|(bt, _)| t < bt) {
            best = Some((t, s));
        }
    }
    best
}

fn trace(spheres: &[Sphere], mut origin: V, mut dir: V, rng: &mut Rng) -> V {
    let mut throughput = V(1.0, 1.0, 1.0);
    for _ in 0..8 {
        match hit(spheres, origin, dir) {
            None => {
                let t = 0.5 * (dir.1 + 1.0);
                let sky = V(1.0, 1.0, 1.0).mul(1.0 - t).add(V(0.5, 0.7, 1.0).mul(t));
                return throughput.hadamard(sky);
            }
            Some((t, s)) => {
                let p = origin.add(dir.mul(t));
                let n = p.sub(s.center).mul(1.0 / s.radius);
                throughput = throughput.hadamard(s.color);
                origin = p;
                dir = if s.mirror {
                    dir.sub(n.mul(2.0 * dir.dot(n)))
                        .add(rng.in_unit_sphere().mul(0.05))
                        .norm()
                } else {
                    n.add(rng.in_unit_sphere()).norm()
                };
            }
        }
    }
    V(0.0, 0.0, 0.0)
}

/// Renders frame `frame` of the animation (the camera circles sideways
/// over 240 frames; frame 0 looks straight on) at `width` x `height` with
/// `samples` rays per pixel; RGB bytes, rows top down.
pub fn render(width: u32, height: u32, samples: u32, frame: u32) -> Vec<u8> {
    let spheres = scene();
    let angle = f64::from(frame % 240) / 240.0 * std::f64::consts::TAU;
    let camera = V(angle.sin() * 0.15, 0.1, 0.6);
    let aspect = f64::from(width) / f64::from(height);
    let mut out = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            // One generator per pixel: the image does not depend on thread order.
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (u64::from(y) << 32 | u64::from(x)).wrapping_add(1));
            let mut color = V(0.0, 0.0, 0.0);
            for _ in 0..samples {
                let u = (f64::from(x) + rng.next()) / f64::from(width) * 2.0 - 1.0;
                let v = 1.0 - (f64::from(y) + rng.next()) / f64::from(height) * 2.0;
                let dir = V(u * aspect * 0.6, v * 0.6, -1.0).norm();
                color = color.add(trace(&spheres, camera, dir, &mut rng));
            }
            let c = color.mul(1.0 / f64::from(samples.max(1)));
            for channel in [c.0, c.1, c.2] {
                // Gamma 2.
                out.push((channel.clamp(0.0, 1.0).sqrt() * 255.0 + 0.5) as u8);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_not_blank() {
        let a = render(32, 18, 4, 0);
        assert_eq!(a, render(32, 18, 4, 0));
        assert_ne!(a, render(32, 18, 4, 30), "frames of the animation differ");
        assert_eq!(a.len(), 32 * 18 * 3);
        let distinct: std::collections::HashSet<_> = a.chunks(3).collect();
        assert!(
            distinct.len() > 50,
            "a scene, not a flat image: {} colours",
            distinct.len()
        );
    }
}
