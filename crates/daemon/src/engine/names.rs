//! Docker-style random container names (`adjective_surname`).

use rand::seq::SliceRandom;

const LEFT: &[&str] = &[
    "admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave", "busy", "charming",
    "clever", "compassionate", "competent", "cool", "crazy", "dazzling", "determined", "eager", "ecstatic", "elastic",
    "elated", "elegant", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty",
    "funny", "gallant", "gifted", "goofy", "gracious", "happy", "hopeful", "hungry", "inspiring", "intelligent",
    "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "naughty",
    "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical",
    "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
    "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "upbeat",
    "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
];

const RIGHT: &[&str] = &[
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik",
    "bassi", "bell", "benz", "bhabha", "black", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta",
    "brattain", "brown", "carson", "cerf", "chandrasekhar", "clarke", "colden", "cori", "cray", "curie", "darwin",
    "davinci", "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "einstein", "elion", "engelbart", "euclid",
    "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goodall", "hamilton",
    "hawking", "heisenberg", "hermann", "hodgkin", "hopper", "hypatia", "jackson", "jang", "jennings", "johnson",
    "kalam", "kepler", "khorana", "knuth", "kowalevski", "lamarr", "lamport", "leakey", "lovelace", "lumiere",
    "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle", "minsky", "morse", "napier", "newton",
    "noether", "pare", "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "ptolemy", "raman", "ritchie",
    "rosalind", "sammet", "shannon", "shirley", "snyder", "spence", "stallman", "swanson", "tesla", "thompson",
    "torvalds", "turing", "varahamihira", "villani", "wescoff", "wiles", "williams", "wilson", "wozniak", "wright",
    "yalow", "yonath",
];

pub fn random_name() -> String {
    let mut rng = rand::thread_rng();
    let l = LEFT.choose(&mut rng).copied().unwrap_or("pouch");
    let r = RIGHT.choose(&mut rng).copied().unwrap_or("container");
    format!("{l}_{r}")
}

/// Docker's rule for user-given names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/` is accepted).
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    n.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web-1"));
        assert!(valid_name("/web_1.a"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("we b"));
        let n = random_name();
        assert!(valid_name(&n), "{n}");
    }
}
