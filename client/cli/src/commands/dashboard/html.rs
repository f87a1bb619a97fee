//! The dashboard's HTML: one page layout, escaping, tables and an SVG bar
//! chart. Everything is inline, so a page is one self-contained response.

use axum::response::Html;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#1d2330;padding:10px 24px}header a{color:#fff;margin-right:18px;text-decoration:none;font-weight:600}\
main{padding:16px 24px;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;background:#fff;font-size:13px}td,th{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#eef0f4}td.n{text-align:right;font-variant-numeric:tabular-nums}\
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;background:#fff;padding:12px;border:1px solid #dde1e8}\
dt{color:#5a6272}dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-all}\
.ok{color:#18794e;font-weight:600}.error{color:#b42318;font-weight:600}.muted{color:#5a6272}\
figure{margin:0;background:#fff;border:1px solid #dde1e8;padding:8px;display:inline-block}\
img.thumb{max-width:240px;border:1px solid #dde1e8;display:block}code{font-size:12px}\
pre{background:#fff;border:1px solid #dde1e8;padding:8px;max-height:320px;overflow:auto;font-size:12px}";

/// A whole page: the layout around `body`. `refresh` reloads it every so
/// many seconds (pages of things that move on their own).
pub fn page_with(title: &str, body: &str, refresh: Option<u32>) -> Html<String> {
    let refresh = refresh
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <title>{} · AKE</title><style>{STYLE}</style></head><body>\
         <header><a href=\"/\">AKE network</a><a href=\"/epochs\">Epochs</a></header>\
         <main><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    ))
}

pub fn page(title: &str, body: &str) -> Html<String> {
    page_with(title, body, None)
}

/// Text made safe inside HTML elements and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL's scheme and host only: RPC URLs often carry an API key in their
/// path, query or user part, which a page must not show.
pub fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// A relative path made safe in a URL: each byte outside the unreserved
/// set and `/` percent-encoded (a file named `a#b?.png` stays one path).
pub fn path_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A link whose text is escaped.
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), esc(text))
}

/// A list of facts; values are HTML (escape text before passing it).
/// Each `<dd>` carries its key as `data-key`, so tools and tests find a
/// fact without depending on the wording of its label.
pub fn facts(rows: &[(&str, &str, String)]) -> String {
    let mut out = String::from("<dl>");
    for (key, label, value) in rows {
        out.push_str(&format!(
            "<dt>{}</dt><dd data-key=\"{key}\">{value}</dd>",
            esc(label)
        ));
    }
    out.push_str("</dl>");
    out
}

/// A table with `id`; cells are HTML. A cell starting with `#` is a
/// number, right-aligned (the `#` is dropped).
pub fn table(id: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{id}\"><thead><tr>");
    for h in head {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            match cell.strip_prefix('#') {
                Some(number) => out.push_str(&format!("<td class=n>{number}</td>")),
                None => out.push_str(&format!("<td>{cell}</td>")),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A grouped bar chart as inline SVG: one group per label, one bar per
/// series (name, colour, values). Bars are scaled to the largest value;
/// each carries its exact value as a tooltip (`<title>`).
pub fn bar_chart(
    id: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<u64>)],
    unit: impl Fn(u64) -> String,
) -> String {
    const HEIGHT: u64 = 180;
    const BAR: usize = 10;
    let group = BAR * series.len() + 8;
    let width = 60 + group * labels.len().max(1);
    let top = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        "<figure><svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\">",
        HEIGHT + 40
    );
    svg.push_str(&format!(
        "<text x=\"0\" y=\"12\" font-size=\"11\">{}</text><line x1=\"56\" y1=\"{h}\" x2=\"{width}\" y2=\"{h}\" stroke=\"#999\"/>",
        esc(&unit(top)),
        h = HEIGHT + 16
    ));
    for (i, label) in labels.iter().enumerate() {
        let x0 = 60 + i * group;
        for (s, (name, colour, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0);
            // Integer scaling; a non-zero value shows at least 1 px.
            let h = (v * HEIGHT).div_ceil(top);
            svg.push_str(&format!(
                "<rect class=\"bar\" data-series=\"{}\" data-label=\"{}\" data-value=\"{v}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" fill=\"{colour}\"><title>{} {}: {}</title></rect>",
                esc(name),
                esc(label),
                x0 + s * BAR,
                HEIGHT + 16 - h,
                BAR - 1,
                esc(name),
                esc(label),
                esc(&unit(v))
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{x0}\" y=\"{}\" font-size=\"10\">{}</text>",
            HEIGHT + 30,
            esc(label)
        ));
    }
    svg.push_str("</svg><figcaption>");
    for (name, colour, _) in series {
        svg.push_str(&format!(
            "<span style=\"color:{colour}\">&#9632;</span> {} ",
            esc(name)
        ));
    }
    svg.push_str("</figcaption></figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            link("/jobs/\"x", "<b>"),
            "<a href=\"/jobs/&quot;x\">&lt;b&gt;</a>"
        );
    }

    #[test]
    fn pages_show_no_api_key_and_paths_stay_paths() {
        assert_eq!(
            origin("https://user:pw@rpc.example.com/v2/SECRET?api-key=K"),
            "https://rpc.example.com"
        );
        assert_eq!(origin("http://127.0.0.1:8899"), "http://127.0.0.1:8899");
        assert_eq!(path_escape("frames/a #1?.png"), "frames/a%20%231%3F.png");
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_keep_the_exact_one() {
        let svg = bar_chart(
            "c",
            &["1".into(), "2".into()],
            &[
                ("burned", "red", vec![50, 100]),
                ("minted", "blue", vec![0, 1]),
            ],
            |v| format!("{v} AKE"),
        );
        assert!(
            svg.contains("data-value=\"100\" x=\"88\" y=\"16\" width=\"9\" height=\"180\""),
            "{svg}"
        );
        assert!(
            svg.contains("data-value=\"50\" x=\"60\" y=\"106\" width=\"9\" height=\"90\""),
            "{svg}"
        );
        // A tiny value still shows; nothing shows for zero.
        assert!(
            svg.contains("data-value=\"1\" x=\"98\" y=\"194\" width=\"9\" height=\"2\""),
            "{svg}"
        );
        assert!(
            svg.contains("data-value=\"0\" x=\"70\" y=\"196\" width=\"9\" height=\"0\""),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 4);
    }
}
