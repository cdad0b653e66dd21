//! The examples of the Revised Romanization of Korean (문화관광부 고시 제2000-8호), article by article.
//! The official forms of proper names are capitalised; `romanize` writes lowercase.

use malmoi_tokenize::text::romanize::romanize;

fn check(cases: &[(&str, &str)]) {
    for &(hangul, official) in cases {
        assert_eq!(romanize(hangul), official.to_lowercase(), "{hangul}");
    }
}

#[test]
fn chapter_2_article_1_vowels() {
    check(&[
        ("아어오우으이애에외위", "aeooueuiaeeoewi"),
        ("야여요유얘예와왜워웨의", "yayeoyoyuyaeyewawaewoweui"),
        ("광희문", "Gwanghuimun"), // ㅢ stays ui although pronounced ㅣ
    ]);
}

#[test]
fn chapter_2_article_2_consonants() {
    check(&[
        ("가까카다따타바빠파", "gakkakadattatabappapa"),
        ("자짜차사싸하", "jajjachasassaha"),
        ("나마라", "namara"),
        ("구미", "Gumi"),
        ("영동", "Yeongdong"),
        ("백암", "Baegam"),
        ("옥천", "Okcheon"),
        ("합덕", "Hapdeok"),
        ("호법", "Hobeop"),
        ("월곶", "Wolgot"),
        ("벚꽃", "beotkkot"),
        ("한밭", "Hanbat"),
        ("구리", "Guri"),
        ("설악", "Seorak"),
        ("칠곡", "Chilgok"),
        ("임실", "Imsil"),
        ("울릉", "Ulleung"),
        ("대관령", "Daegwallyeong"),
    ]);
}

#[test]
fn chapter_3_article_1_assimilation() {
    check(&[("백마", "Baengma"), ("종로", "Jongno"), ("왕십리", "Wangsimni"), ("별내", "Byeollae"), ("신라", "Silla")]);
}

#[test]
fn chapter_3_article_1_palatalization() {
    check(&[("해돋이", "haedoji"), ("같이", "gachi"), ("굳히다", "guchida")]);
}

#[test]
fn chapter_3_article_1_aspiration() {
    check(&[("좋고", "joko"), ("놓다", "nota"), ("잡혀", "japyeo"), ("낳지", "nachi")]);
}

#[test]
fn chapter_3_article_1_tensification_is_not_written() {
    check(&[
        ("압구정", "Apgujeong"),
        ("낙동강", "Nakdonggang"),
        ("죽변", "Jukbyeon"),
        ("낙성대", "Nakseongdae"),
        ("합정", "Hapjeong"),
        ("팔당", "Paldang"),
        ("샛별", "saetbyeol"),
        ("울산", "Ulsan"),
    ]);
}

#[test]
fn chapter_3_article_2_no_hyphen_is_written() {
    // The rules allow, but do not require, 중앙 Jung-ang, 반구대 Ban-gudae, 세운 Se-un, 해운대 Hae-undae.
    check(&[("중앙", "jungang"), ("반구대", "bangudae"), ("세운", "seun"), ("해운대", "haeundae")]);
}

#[test]
fn standard_pronunciation_of_finals() {
    check(&[
        ("닭이", "dalgi"), // compound final: second consonant moves (연음)
        ("값이", "gapsi"), // ㅄ + 이 [갑씨]; tensification not written
        ("앉아", "anja"),  // ㄵ + 아
        ("닭", "dak"),     // compound final alone: representative sound
        ("삶", "sam"),
        ("좋아", "joa"),     // ㅎ before a vowel is silent
        ("않는", "anneun"),  // ㄶ + ㄴ
        ("놓는", "nonneun"), // ㅎ + ㄴ [논는]
        ("많고", "manko"),   // ㄶ + ㄱ [만코]
        ("싫다", "silta"),   // ㅀ + ㄷ [실타]
        ("싫어", "sireo"),   // ㅀ + vowel
        ("있어", "isseo"),   // double consonant moves whole
        ("밖에", "bakke"),
        ("국민", "gungmin"),    // 비음화
        ("협력", "hyeomnyeok"), // ㅂ + ㄹ → ㅁ + ㄴ
        ("독립", "dongnip"),
        ("난로", "nallo"),     // 유음화
        ("앉히다", "anchida"), // ㄵ + ㅎ
        ("밝히다", "balkida"), // ㄺ + ㅎ
        ("전화", "jeonhwa"),   // ㅎ after a sonorant is written
    ]);
}

#[test]
fn what_a_string_of_syllables_cannot_show_follows_the_general_rule() {
    // Documented deviations: official 학여울 Hangnyeoul and 알약 allyak (ㄴ/ㄹ insertion in a
    // compound), 신문로 Sinmunno (ㄴㄴ in a compound), 묵호 Mukho and 집현전 Jiphyeonjeon (nouns keep
    // ㅎ) need word structure.
    check(&[
        ("학여울", "hagyeoul"),
        ("알약", "aryak"),
        ("신문로", "sinmullo"),
        ("묵호", "muko"),
        ("집현전", "jipyeonjeon"),
    ]);
}

#[test]
fn other_characters_are_copied_and_separate_words() {
    assert_eq!(romanize("밥 먹자"), "bap meokja"); // no nasalization across the space
    assert_eq!(romanize("ㅋㅋ 영화2편!"), "ㅋㅋ yeonghwa2pyeon!");
    assert_eq!(romanize(""), "");
}
