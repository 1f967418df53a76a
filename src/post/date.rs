//! Dates as real blogs write them → a timestamp that keeps its offset.
//!
//! A date without a time is midnight and a time without an offset is local, both in the
//! site's time zone. A local time that falls in the spring-forward gap takes the later
//! mapping (2:30 → 3:30 daylight time, as JavaScript's Temporal does); one that is
//! ambiguous in the autumn takes the earlier (the first 1:30).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone,
};
use chrono_tz::Tz;

/// Named in every bad-date message so the writer sees what works.
pub const ACCEPTED: &str = "use 2019-03-03, 2019-03-03 09:05, 2019-03-03T09:05:00-08:00, \
                            March 3, 2019 or 3 March 2019";

/// Parses one date in any accepted form; `None` when it is none of them, or when it is
/// outside the years 1 to 9999, here or in UTC: feeds write four-digit years, and the
/// W3C validator fails an Atom feed dated in year 0.
pub fn parse(value: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let in_range = |date: &DateTime<FixedOffset>| {
        [date.year(), date.naive_utc().year()]
            .iter()
            .all(|year| (1..=9999).contains(year))
    };
    any_form(value, tz).filter(in_range)
}

fn any_form(value: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return None;
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(&value) {
        return Some(date);
    }
    if let Ok(date) = DateTime::parse_from_rfc2822(&value) {
        return Some(date);
    }
    numeric(&value, tz).or_else(|| long(&value, tz))
}

/// Midnight of a day in the site's zone: what a date without a time means.
pub fn midnight(date: NaiveDate, tz: Tz) -> DateTime<FixedOffset> {
    local(date.and_time(NaiveTime::MIN), tz)
}

/// A wall-clock time in the site's zone, with the zone's offset at that instant.
pub fn local(naive: NaiveDateTime, tz: Tz) -> DateTime<FixedOffset> {
    whole_minutes(match tz.from_local_datetime(&naive) {
        LocalResult::Single(date) => date.fixed_offset(),
        LocalResult::Ambiguous(earlier, _) => earlier.fixed_offset(),
        LocalResult::None => {
            // In a gap: read the time with the offset in force just before it, which lands
            // after the gap by its length.
            let before = naive
                .checked_sub_signed(Duration::days(1))
                .and_then(|day_before| tz.from_local_datetime(&day_before).earliest())
                .map(|date| date.offset().fix())
                .unwrap_or_else(|| chrono::Utc.fix());
            let utc = naive
                .checked_sub_signed(Duration::seconds(i64::from(before.local_minus_utc())))
                .unwrap_or(naive);
            tz.from_utc_datetime(&utc).fixed_offset()
        }
    })
}

/// `date` with its offset rounded to whole minutes and its wall-clock time kept. Local
/// mean time before a zone's standard time has offsets in seconds (Los Angeles until
/// 1883: -07:52:58), which RFC 3339 cannot write: chrono rounds the offset as it writes,
/// so a feed would name an instant seconds away from the post's, and a post written
/// back from its feed would move.
pub fn whole_minutes(date: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let seconds = date.offset().local_minus_utc();
    if seconds % 60 == 0 {
        return date;
    }
    let minutes = (f64::from(seconds) / 60.0).round() as i32;
    FixedOffset::east_opt(minutes * 60)
        .and_then(|offset| offset.from_local_datetime(&date.naive_local()).single())
        .unwrap_or(date)
}

/// `YYYY-MM-DD`, then optionally `T` or a space, `H:MM[:SS[.frac]]` and an offset
/// (`Z`, `UTC`, `GMT`, `±HH:MM`, `±HHMM`, `±HH`), with or without a space before it.
fn numeric(value: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let date_part = value.get(..10)?;
    // `%Y` also takes a sign (`-019-03-03` is the year -19, which no feed can write).
    if !date_part.bytes().take(4).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()?;
    let rest = value.get(10..)?;
    if rest.is_empty() {
        return Some(midnight(date, tz));
    }
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))?;
    let (time, rest) = clock(rest)?;
    let naive = date.and_time(time);
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some(local(naive, tz));
    }
    let offset = offset(rest)?;
    offset.from_local_datetime(&naive).single()
}

/// `H:MM[:SS[.frac]]` at the start of `s`; returns the time and what follows.
fn clock(s: &str) -> Option<(NaiveTime, &str)> {
    let digits = |s: &str, max: usize| -> (u32, usize) {
        let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        (s.get(..n).and_then(|d| d.parse().ok()).unwrap_or(0), n)
    };
    let (hour, n) = digits(s, 2);
    if n == 0 {
        return None;
    }
    let s = s.get(n..)?.strip_prefix(':')?;
    let (minute, n) = digits(s, 2);
    if n != 2 {
        return None;
    }
    let mut s = s.get(n..)?;
    let mut second = 0;
    if let Some(after) = s.strip_prefix(':') {
        let (sec, n) = digits(after, 2);
        if n != 2 {
            return None;
        }
        second = sec;
        s = after.get(n..)?;
        if let Some(frac) = s.strip_prefix('.').or_else(|| s.strip_prefix(',')) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            s = frac.get(n..)?;
        }
    }
    Some((NaiveTime::from_hms_opt(hour, minute, second)?, s))
}

/// A whole offset token: `Z`, `UTC`, `GMT`, `±HH:MM`, `±HHMM` or `±HH`.
fn offset(s: &str) -> Option<FixedOffset> {
    if matches!(s.to_ascii_uppercase().as_str(), "Z" | "UTC" | "GMT" | "UT") {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = if let Some(d) = s.strip_prefix('+') {
        (1, d)
    } else if let Some(d) = s.strip_prefix('-').or_else(|| s.strip_prefix('\u{2212}')) {
        (-1, d)
    } else {
        return None;
    };
    let digits: String = digits.chars().filter(|&c| c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits.get(..2)?.parse::<i32>().ok()?,
            digits.get(2..)?.parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn month(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.').to_ascii_lowercase();
    let months = [
        ["jan", "january"],
        ["feb", "february"],
        ["mar", "march"],
        ["apr", "april"],
        ["may", "may"],
        ["jun", "june"],
        ["jul", "july"],
        ["aug", "august"],
        ["sep", "september"],
        ["oct", "october"],
        ["nov", "november"],
        ["dec", "december"],
    ];
    let index = months.iter().position(|[short, long]| {
        word == *short || word == *long || (word == "sept" && *short == "sep")
    })?;
    u32::try_from(index + 1).ok()
}

fn weekday(word: &str) -> bool {
    let word = word.trim_end_matches('.').to_ascii_lowercase();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    days.iter()
        .any(|day| word == *day || (word.len() >= 3 && day.starts_with(word.as_str())))
}

fn day(word: &str) -> Option<u32> {
    let lower = word.to_ascii_lowercase();
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix))
        .unwrap_or(&lower);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn year(word: &str) -> Option<i32> {
    if word.len() != 4 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

/// `January 18, 2018`, `Jan. 18 2018`, `18 January 2018`, `Sunday, March 3, 2019`, each
/// optionally followed by a time: `at 9:05 AM`, `9:05 pm`, `21:05`, an offset.
fn long(value: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let spaced = value.replace(',', " ");
    let mut words: Vec<&str> = spaced.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| weekday(w) && month(w).is_none())
    {
        words.remove(0);
    }
    let (m, d, y) = match words.as_slice() {
        [a, b, c, ..] if month(a).is_some() => (month(a)?, day(b)?, year(c)?),
        [a, b, c, ..] => (month(b)?, day(a)?, year(c)?),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let mut rest = words.get(3..).unwrap_or_default();
    if rest.is_empty() {
        return Some(midnight(date, tz));
    }
    if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("at")) {
        rest = rest.get(1..).unwrap_or_default();
    }
    let joined = rest.join(" ");
    let (time, after) = clock(&joined)?;
    let after = after.trim_start();
    let lower = after.to_ascii_lowercase();
    let (time, after) = if let Some(meridiem) = ["am", "a.m.", "pm", "p.m."]
        .iter()
        .find(|m| lower.starts_with(**m))
    {
        let hour = chrono::Timelike::hour(&time);
        if hour == 0 || hour > 12 {
            return None;
        }
        let pm = meridiem.starts_with('p');
        let hour24 = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
        let time = chrono::Timelike::with_hour(&time, hour24)?;
        (time, after.get(meridiem.len()..)?.trim_start())
    } else {
        (time, after)
    };
    let naive = date.and_time(time);
    if after.is_empty() {
        return Some(local(naive, tz));
    }
    offset(after)?.from_local_datetime(&naive).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LA: Tz = chrono_tz::America::Los_Angeles;

    /// Regression (hostile corpus): `date: 0000-01-01` was published, and the W3C
    /// validator failed the site's Atom feed on it.
    #[test]
    fn dates_outside_the_years_1_to_9999_are_not_dates() {
        let utc = chrono_tz::UTC;
        assert_eq!(parse("0000-01-01", utc), None);
        assert_eq!(parse("0001-01-01T00:30:00+01:00", utc), None);
        assert_eq!(parse("9999-12-31T23:00:00-05:00", utc), None);
        assert!(parse("0001-01-01", utc).is_some());
        assert!(parse("9999-01-01", LA).is_some());
        assert_eq!(crate::post::text::jekyll("0000-01-01-x"), None);
    }

    fn iso(value: &str) -> String {
        parse(value, LA)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| format!("not a date: {value}"))
    }

    #[test]
    fn rfc3339_keeps_its_offset() {
        assert_eq!(
            iso("2019-03-03T09:05:00+02:00"),
            "2019-03-03T09:05:00+02:00"
        );
        assert_eq!(iso("2019-03-03T17:05:00Z"), "2019-03-03T17:05:00+00:00");
    }

    #[test]
    fn rfc2822_is_read() {
        assert_eq!(
            iso("Sun, 03 Mar 2019 09:05:00 -0800"),
            "2019-03-03T09:05:00-08:00"
        );
    }

    #[test]
    fn bare_date_is_local_midnight() {
        assert_eq!(iso("2019-03-03"), "2019-03-03T00:00:00-08:00");
        assert_eq!(iso("2019-07-04"), "2019-07-04T00:00:00-07:00");
    }

    #[test]
    fn local_time_takes_daylight_saving_into_account() {
        assert_eq!(iso("2019-07-04 09:30"), "2019-07-04T09:30:00-07:00");
        assert_eq!(iso("2019-01-15 09:30"), "2019-01-15T09:30:00-08:00");
    }

    #[test]
    fn space_separated_time_with_offsets() {
        assert_eq!(
            iso("2019-03-03 09:05:30 +0200"),
            "2019-03-03T09:05:30+02:00"
        );
        assert_eq!(iso("2019-03-03 09:05 +02:00"), "2019-03-03T09:05:00+02:00");
        assert_eq!(iso("2019-03-03 09:05 Z"), "2019-03-03T09:05:00+00:00");
        assert_eq!(iso("2019-03-03 09:05-0500"), "2019-03-03T09:05:00-05:00");
    }

    #[test]
    fn t_separated_time_without_offset_is_local() {
        assert_eq!(iso("2019-03-03T09:05"), "2019-03-03T09:05:00-08:00");
        assert_eq!(iso("2019-03-03T09:05:07"), "2019-03-03T09:05:07-08:00");
        assert_eq!(iso("2019-03-03T09:05+0100"), "2019-03-03T09:05:00+01:00");
    }

    #[test]
    fn one_digit_hour_is_accepted() {
        assert_eq!(iso("2019-03-03 9:05"), "2019-03-03T09:05:00-08:00");
    }

    #[test]
    fn long_month_names() {
        assert_eq!(iso("January 18, 2018"), "2018-01-18T00:00:00-08:00");
        assert_eq!(iso("Jan 18, 2018"), "2018-01-18T00:00:00-08:00");
        assert_eq!(iso("Jan. 18, 2018"), "2018-01-18T00:00:00-08:00");
        assert_eq!(iso("18 January 2018"), "2018-01-18T00:00:00-08:00");
        assert_eq!(iso("Sept 3, 2019"), "2019-09-03T00:00:00-07:00");
        assert_eq!(iso("Sunday, March 3, 2019"), "2019-03-03T00:00:00-08:00");
        assert_eq!(iso("March 3rd, 2019"), "2019-03-03T00:00:00-08:00");
    }

    #[test]
    fn long_forms_with_a_time() {
        assert_eq!(iso("March 3, 2019 at 9:05 AM"), "2019-03-03T09:05:00-08:00");
        assert_eq!(iso("March 3, 2019 9:05 pm"), "2019-03-03T21:05:00-08:00");
        assert_eq!(iso("March 3, 2019 12:10 am"), "2019-03-03T00:10:00-08:00");
        assert_eq!(iso("3 March 2019 21:05"), "2019-03-03T21:05:00-08:00");
        assert_eq!(
            iso("March 3, 2019 9:05pm +0100"),
            "2019-03-03T21:05:00+01:00"
        );
    }

    #[test]
    fn spring_gap_takes_the_later_mapping_and_autumn_overlap_the_earlier() {
        assert_eq!(iso("2019-03-10 02:30"), "2019-03-10T03:30:00-07:00");
        assert_eq!(iso("2019-11-03 01:30"), "2019-11-03T01:30:00-07:00");
    }

    /// Found by `tests/properties.rs`: Los Angeles kept local mean time (-07:52:58)
    /// until 1883, and RFC 3339 writes offsets in whole minutes.
    #[test]
    fn a_date_before_standard_time_has_an_offset_rfc3339_can_write() {
        let date = parse("1850-06-01", LA).unwrap();
        assert_eq!(date.to_rfc3339(), "1850-06-01T00:00:00-07:53");
        assert_eq!(date.offset().local_minus_utc(), -(7 * 3600 + 53 * 60));
        // Year 0 is no date (feeds cannot carry it); year 1 is the earliest.
        assert_eq!(
            parse("0001-01-01 09:05", LA).unwrap().to_rfc3339(),
            "0001-01-01T09:05:00-07:53"
        );
    }

    /// Found by fuzzing (`fuzz/`, target `fields`): `%Y` takes a sign, so
    /// `-019-03-03` was the year -19, which feeds cannot write (chrono panicked writing
    /// it as RSS).
    #[test]
    fn a_signed_year_is_not_a_date() {
        for value in [
            "-019-03-03T09:05:00-08:00",
            "-019-03-03",
            "+019-03-03 09:05",
        ] {
            assert_eq!(parse(value, LA), None, "{value}");
        }
    }

    #[test]
    fn nonsense_is_not_a_date() {
        for value in [
            "",
            "soon",
            "2019-13-01",
            "2019-02-30",
            "March 32, 2019",
            "2019-03-03 25:00",
            "2019-03-03 9:5",
            "2019-03-03 09:05 +99",
            "March 3, 2019 13:00 pm",
            "2019-03-03x",
            "é",
            "2019-03-0\u{e9}",
        ] {
            assert_eq!(parse(value, LA), None, "{value}");
        }
    }
}
