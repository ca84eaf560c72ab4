//! The records both servers hold: generated from a fixed seed, with explicit ids, so that
//! PocketBase and baas store the same values (only `created`/`updated` differ).

use serde_json::{Value, json};

use crate::rng::Rng;

pub const PASSWORD: &str = "differential-1";

/// The superuser caller (id, email), created with a fixed id on both servers.
pub const SUPERUSER: (&str, &str) = ("superuser000001", "superuser@example.com");

/// Names chosen for edge cases: mixed case, duplicates up to case, empty, non-ASCII (SQLite's
/// `LOWER` only folds ASCII), `~`'s wildcard and escape characters, quotes.
const NAMES: [&str; 10] = ["Alice", "alice", "ALICE", "Bob", "", "Émile", "50%_off", "O'Brien", "carol", "dave"];

/// Title words: case variants, words that look like literals (`null`, `true`, `0`), digits,
/// `%` and `_`.
const WORDS: [&str; 24] = [
    "Rust",
    "rust",
    "SQLite",
    "pocketbase",
    "Hello",
    "hello",
    "world",
    "50%",
    "a_b",
    "Ünïcode",
    "2026",
    "recap",
    "null",
    "true",
    "0",
    "news",
    "tech",
    "Zebra",
    "apple",
    "banana",
    "éclair",
    "x",
    "ab",
    "AB",
];

pub const TAGS: [&str; 3] = ["news", "tech", "life"];

pub struct User {
    pub id: String,
    pub email: String,
    pub name: &'static str,
    pub verified: bool,
}

pub struct Post {
    pub id: String,
    pub title: String,
    pub body: String,
    pub published: bool,
    pub author: usize,
    pub tags: Vec<&'static str>,
    pub views: i64,
}

pub struct Comment {
    pub id: String,
    pub post: usize,
    pub author: usize,
    pub text: String,
}

pub struct Data {
    pub users: Vec<User>,
    pub posts: Vec<Post>,
    pub comments: Vec<Comment>,
}

/// The user the "user" caller signs in as: author of published and unpublished posts.
pub const CALLER: usize = 0;

impl Data {
    /// 10 users (the last two without posts or comments), 150 posts (the last 40 without
    /// comments), 300 comments.
    pub fn generate() -> Data {
        let mut rng = Rng::new(20_261_205);
        let users = NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| User { id: rng.id(), email: format!("user{i}@example.com"), name, verified: i % 3 == 0 })
            .collect();
        let words = |rng: &mut Rng, n: usize| (0..n).map(|_| *rng.pick(&WORDS)).collect::<Vec<_>>().join(" ");
        let posts = (0..150)
            .map(|i| {
                let n = 1 + rng.below(3);
                let title = words(&mut rng, n);
                let body = if rng.chance(0.3) {
                    String::new()
                } else {
                    let n = 2 + rng.below(6);
                    words(&mut rng, n)
                };
                let mut tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.chance(0.4)).collect();
                if rng.chance(0.5) {
                    tags.reverse();
                }
                let views = match rng.below(4) {
                    0 => 0,
                    1 => *rng.pick(&[1, 5, 10, 42, 100, 999]),
                    _ => rng.below(1000) as i64,
                };
                // The caller's posts come first, published and not.
                let author = if i < 6 { CALLER } else { rng.below(8) };
                let published = if i < 6 { i % 2 == 0 } else { rng.chance(0.6) };
                Post { id: rng.id(), title, body, published, author, tags, views }
            })
            .collect();
        let comments = (0..300)
            .map(|_| {
                let n = 1 + rng.below(4);
                Comment { id: rng.id(), post: rng.below(110), author: rng.below(8), text: words(&mut rng, n) }
            })
            .collect();
        Data { users, posts, comments }
    }

    /// The create requests, in order: `(collection, body)`, all sent as a superuser.
    pub fn creates(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        for u in &self.users {
            out.push((
                "users",
                json!({"id": u.id, "email": u.email, "name": u.name, "verified": u.verified,
                       "emailVisibility": u.verified, "password": PASSWORD, "passwordConfirm": PASSWORD}),
            ));
        }
        for p in &self.posts {
            out.push((
                "posts",
                json!({"id": p.id, "title": p.title, "body": p.body, "published": p.published,
                       "author": self.users[p.author].id, "tags": p.tags, "views": p.views}),
            ));
        }
        for c in &self.comments {
            out.push((
                "comments",
                json!({"id": c.id, "post": self.posts[c.post].id, "author": self.users[c.author].id, "text": c.text}),
            ));
        }
        out
    }
}
