//! Tolerant comparison of rendered frames (issue 34, first part): GPU
//! renders are not bit-identical across GPUs and drivers, so an audit of a
//! render compares the two frames within a tolerance the spec declares.
//! One library for every party (the auditing node, the creator's CLI,
//! anyone recomputing a verdict), so that all of them reach the same one.
//!
//! Both frames are decoded to 8-bit RGB (grey, alpha and 16-bit channels
//! are reduced to it; alpha is dropped). The measures are the peak
//! signal-to-noise ratio over every channel of every pixel, `10 log10(255² /
//! MSE)` dB (infinite for identical frames), and the largest difference of
//! any channel of any pixel. A frame that is not a readable PNG, or of
//! other dimensions, is a mismatch.
//!
//! What a tolerance cannot catch: output degraded within it (fewer samples,
//! a lower resolution upscaled, a slightly wrong frame) passes as long as
//! its PSNR stays above the floor. Choose the floor from two honest renders
//! of the same frame on different GPUs, a few dB below their PSNR.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// What a spec tolerates between two renders of the same frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// The lowest PSNR (dB) that still matches.
    pub min_psnr_db: Option<f64>,
    /// The largest difference of one channel of one pixel (0-255) that
    /// still matches.
    pub max_pixel_diff: Option<u8>,
}

/// What a comparison measured, and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `f64::INFINITY` for identical frames (serialized as null).
    pub psnr_db: f64,
    pub max_pixel_diff: u8,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    Match,
    Mismatch(String),
}

/// A frame decoded to 8-bit RGB.
struct Frame {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

/// Frames larger than this are refused (a decompression bomb would
/// otherwise take the auditor's memory): 16,384 x 16,384 pixels.
const MAX_PIXELS: u64 = 1 << 28;

/// Compares the original frame with the audit's render of it.
pub fn compare_png(original: &[u8], audit: &[u8], tolerance: &Tolerance) -> Comparison {
    let (a, b) = match (decode(original), decode(audit)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => return unreadable(format!("the original frame: {e}")),
        (_, Err(e)) => return unreadable(format!("the audit's frame: {e}")),
    };
    if (a.width, a.height) != (b.width, b.height) {
        return unreadable(format!(
            "the frames differ in size: {}x{} and {}x{}",
            a.width, a.height, b.width, b.height
        ));
    }
    let (squared, max_pixel_diff) =
        a.rgb
            .iter()
            .zip(&b.rgb)
            .fold((0u64, 0u8), |(sum, max), (x, y)| {
                let d = x.abs_diff(*y);
                (sum + u64::from(d) * u64::from(d), max.max(d))
            });
    let psnr_db = psnr(squared, a.rgb.len());
    let verdict = match (tolerance.min_psnr_db, tolerance.max_pixel_diff) {
        (Some(floor), _) if psnr_db < floor => Verdict::Mismatch(format!(
            "PSNR {psnr_db:.2} dB is below the {floor} dB the spec tolerates"
        )),
        (_, Some(most)) if max_pixel_diff > most => Verdict::Mismatch(format!(
            "a pixel differs by {max_pixel_diff}, more than the {most} the spec tolerates"
        )),
        _ => Verdict::Match,
    };
    Comparison {
        psnr_db,
        max_pixel_diff,
        verdict,
    }
}

fn unreadable(why: String) -> Comparison {
    Comparison {
        psnr_db: 0.0,
        max_pixel_diff: u8::MAX,
        verdict: Verdict::Mismatch(why),
    }
}

/// `10 log10(255² / MSE)` over `samples` channel values.
fn psnr(squared: u64, samples: usize) -> f64 {
    if squared == 0 {
        return f64::INFINITY;
    }
    let mse = squared as f64 / samples as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

fn decode(png_bytes: &[u8]) -> Result<Frame, String> {
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("not a readable PNG ({e})"))?;
    let (width, height) = (reader.info().width, reader.info().height);
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!("{width}x{height} is larger than frames may be"));
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("not a readable PNG ({e})"))?;
    buf.truncate(info.buffer_size());
    let rgb = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|g| [*g; 3]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0]; 3]).collect(),
        png::ColorType::Indexed => return Err("an indexed PNG the decoder did not expand".into()),
    };
    Ok(Frame { width, height, rgb })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSNR_FLOOR: Tolerance = Tolerance {
        min_psnr_db: Some(30.0),
        max_pixel_diff: None,
    };

    /// The demo's path tracer, frame `frame` at `samples` samples per pixel.
    fn render(frame: u32, samples: u32) -> Vec<u8> {
        ake_render::encode_png(160, 90, &ake_render::render(160, 90, samples, frame))
    }

    /// The frame's pixels, each channel moved by a small pseudo-random
    /// amount (at most 3): what another GPU's rounding might do.
    fn with_noise(png_bytes: &[u8]) -> Vec<u8> {
        let frame = decode(png_bytes).unwrap();
        let mut state = 0x9E37_79B9u32;
        let rgb: Vec<u8> = frame
            .rgb
            .iter()
            .map(|&v| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let delta = (state % 7) as i16 - 3;
                (i16::from(v) + delta).clamp(0, 255) as u8
            })
            .collect();
        ake_render::encode_png(frame.width, frame.height, &rgb)
    }

    #[test]
    fn the_same_frame_with_small_noise_matches() {
        let original = render(1, 8);
        let same = compare_png(&original, &render(1, 8), &PSNR_FLOOR);
        assert_eq!(same.verdict, Verdict::Match);
        assert!(same.psnr_db.is_infinite() && same.max_pixel_diff == 0);
        let noisy = compare_png(&original, &with_noise(&original), &PSNR_FLOOR);
        assert_eq!(noisy.verdict, Verdict::Match, "{noisy:?}");
        assert!(
            noisy.psnr_db > 40.0 && noisy.max_pixel_diff <= 3,
            "{noisy:?}"
        );
        let strict = Tolerance {
            min_psnr_db: None,
            max_pixel_diff: Some(2),
        };
        let too_far = compare_png(&original, &with_noise(&original), &strict);
        assert!(
            matches!(too_far.verdict, Verdict::Mismatch(_)),
            "{too_far:?}"
        );
    }

    #[test]
    fn a_different_frame_or_a_blank_one_is_a_mismatch() {
        let original = render(1, 8);
        // A quarter of the camera's circle on.
        let other = compare_png(&original, &render(61, 8), &PSNR_FLOOR);
        assert!(matches!(other.verdict, Verdict::Mismatch(_)), "{other:?}");
        let blank = ake_render::encode_png(160, 90, &vec![0; 160 * 90 * 3]);
        let blank = compare_png(&original, &blank, &PSNR_FLOOR);
        assert!(matches!(blank.verdict, Verdict::Mismatch(_)), "{blank:?}");
        assert!(blank.psnr_db < 30.0, "{blank:?}");
        let small = ake_render::encode_png(80, 45, &ake_render::render(80, 45, 8, 1));
        let smaller = compare_png(&original, &small, &PSNR_FLOOR);
        assert_eq!(
            smaller.verdict,
            Verdict::Mismatch("the frames differ in size: 160x90 and 80x45".into())
        );
    }

    /// What a tolerance cannot catch: the neighbouring frame (36.6 dB) and
    /// half the samples (33.6 dB) pass a 30 dB floor; a 40 dB floor catches
    /// both, and still passes a render at 9 samples instead of 8 (40.2 dB).
    #[test]
    fn a_floor_passes_what_lies_within_it() {
        let original = render(1, 8);
        let at = |floor: f64, other: &[u8]| {
            let tolerance = Tolerance {
                min_psnr_db: Some(floor),
                max_pixel_diff: None,
            };
            compare_png(&original, other, &tolerance).verdict == Verdict::Match
        };
        let (neighbour, half, nine) = (render(2, 8), render(1, 16), render(1, 9));
        assert!(at(30.0, &neighbour) && at(30.0, &half));
        assert!(!at(40.0, &neighbour) && !at(40.0, &half));
        assert!(at(40.0, &nine));
    }

    #[test]
    fn a_truncated_or_foreign_file_is_a_mismatch_never_a_panic() {
        let original = render(1, 8);
        let truncated = &original[..original.len() / 2];
        let cut = compare_png(&original, truncated, &PSNR_FLOOR);
        match &cut.verdict {
            Verdict::Mismatch(why) => assert!(
                why.starts_with("the audit's frame: not a readable PNG"),
                "{why}"
            ),
            Verdict::Match => panic!("a truncated frame matched"),
        }
        let text = compare_png(b"not a png at all", &original, &PSNR_FLOOR);
        assert!(
            matches!(&text.verdict, Verdict::Mismatch(why) if why.starts_with("the original frame"))
        );
        assert!(matches!(
            compare_png(&[], &[], &PSNR_FLOOR).verdict,
            Verdict::Mismatch(_)
        ));
    }
}
