"""Groupings: the shipped study grouping, remaps, and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.data import Grouping, list_groupings, load_grouping
from tuner.errors import ConfigError

# The study's 73 class names (folder names after the `beauty` preset), from the thesis.
BEAUTY_CLASSES = [
    "Body_AntiCelluliteCream", "Body_BodyExfoliantsScrub", "Body_BodyFirmings", "Body_Bodyemollients",
    "Body_Bodymoisturizers", "Body_Bodytreatment", "Body_Hairremoversandbodybleaches", "Body_Handstreatment",
    "Body_SupplementsBody", "Bodyhygiene_Bathcosmetics", "Bodyhygiene_Deodorantsandantiperspiration",
    "Bodyhygiene_Feethygieniccosmetics", "Bodyhygiene_Liquidsoaps", "Bodyhygiene_SoapsandSyndets",
    "Bodyhygiene_WipesWetNapkins", "CosmeticGiftwraps_Beautysalonsthermalspa", "CosmeticGiftwraps_Giftwrap",
    "Cosmeticaccessories_Candles", "Cosmeticaccessories_Combs", "Cosmeticaccessories_Hairbrushes",
    "Cosmeticaccessories_MakeupBagsKits", "Cosmeticaccessories_Makeupbrushes", "Cosmeticaccessories_Mirrors",
    "Cosmeticaccessories_Razor", "Cosmeticaccessories_Sponges", "Eyesmakeup_Eyelinerandeyepencils",
    "Eyesmakeup_Eyeshadows", "Eyesmakeup_Mascara", "Facemakeup_Allinonefacemakeup", "Facemakeup_Blush",
    "Facemakeup_Concealer", "Facemakeup_Facedecoration", "Facemakeup_Foundationcream",
    "Facemakeup_Foundationcreampowdercompact", "Facemakeup_Makeupfashionmentions", "Facemakeup_Powder",
    "Facemakeup_TintedMoisturizer", "Facetreatment_AcneOilySkinTreatment", "Facetreatment_Antiagecreamfirmingcream",
    "Facetreatment_Eyestreatment", "Facetreatment_FaceExfoliantsScrub", "Facetreatment_Facecleansersanmakeupremovers",
    "Facetreatment_Facemasks", "Facetreatment_Faceserum", "Facetreatment_Facetoners", "Facetreatment_Facetreatment",
    "Facetreatment_Lipstreatment", "Fragrances_Fragrances", "Fragrances_HouseFragrances", "HairScalp_Conditioner",
    "HairScalp_Hairdyes", "HairScalp_Hairfashionmentions", "HairScalp_Hairspray", "HairScalp_Hairtreatment",
    "HairScalp_Shampoo", "HairScalp_Stylingserumgelmousse", "HairScalp_SupplementsHair", "Handsmakeup_Nailpolish",
    "Handsmakeup_Nailsdecoration", "Lipsmakeup_Lipliners", "Lipsmakeup_Lipsticksandgloss",
    "Manline_Mancreamsandlotions", "Manline_PreandAfterShaveLotions", "Oralhygiene_ElectricToothbrush",
    "Oralhygiene_Toothbrushes", "Oralhygiene_Toothpaste", "Packagingmultiproduct_Multicosmeticspackaging",
    "Setline_Setline", "Suntanlotions_AfterSunLotion", "Suntanlotions_SelftanningLotion",
    "Suntanlotions_SunScreenBody", "Suntanlotions_SunScreenFace", "Suntanlotions_Suntanlotions",
]  # fmt: skip


def test_shipped_study_grouping_turns_73_classes_into_45():
    assert "beauty_grouped_a" in list_groupings()
    grouping = load_grouping("beauty_grouped_a")
    assert len(BEAUTY_CLASSES) == 73
    assert len(grouping.groups) == 16
    remap = grouping.remap(BEAUTY_CLASSES)
    assert remap.num_classes == 45
    g14 = remap.names.index("G14")
    assert remap.mapping[BEAUTY_CLASSES.index("Oralhygiene_ElectricToothbrush")] == g14
    assert remap.mapping[BEAUTY_CLASSES.index("Oralhygiene_Toothbrushes")] == g14
    kept = remap.names.index("Oralhygiene_Toothpaste")
    assert remap.mapping[BEAUTY_CLASSES.index("Oralhygiene_Toothpaste")] == kept


def test_remap_does_not_depend_on_class_order_and_identity():
    g = Grouping("g", {"pets": ("cat", "dog")})
    remap = g.remap(["cat", "dog", "fish"])
    assert remap.names == ("fish", "pets")
    assert remap.mapping == (1, 1, 0)
    shuffled = g.remap(["fish", "dog", "cat"])
    assert shuffled.names == remap.names and shuffled.mapping == (0, 1, 1)
    assert Grouping.identity(["a", "b"]).mapping == (0, 1)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "g.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, classes, message",
    [
        ("name: g\ngroups:\n  G1: [Oralhygiene_Tothbrushes, Setline_Setline]\n", BEAUTY_CLASSES,
         r"unknown class 'Oralhygiene_Tothbrushes'; did you mean 'Oralhygiene_Toothbrushes'"),
        ("name: g\ngroups:\n  G1: [a, b]\n  G2: [b, c]\n", ["a", "b", "c", "d"], r"class 'b' is in both group 'G1' and group 'G2'"),
        ("name: g\ngroups:\n  G1: []\n", ["a", "b"], r"group 'G1' .* is empty"),
        ("name: g\ngroups:\n  G1:\n", ["a", "b"], r"group 'G1' .* is empty"),
        ("name: g\ngroups:\n  c: [a, b]\n", ["a", "b", "c"], r"group name 'c' .* class left ungrouped"),
    ],
)  # fmt: skip
def test_grouping_errors_against_classes(tmp_path, text, classes, message):
    grouping = load_grouping(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=message):
        grouping.remap(classes)


def test_group_named_after_one_of_its_members_is_fine():
    assert Grouping("g", {"a": ("a", "b")}).remap(["a", "b", "c"]).names == ("a", "c")


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: g\ngroups: {G1: [a, b]}\nextra: 1\n", r"unknown key 'extra'"),
        ("groups: {G1: [a, b]}\n", r"'name' field required"),
        ("name: g\ngroups: [a, b]\n", r"'groups'"),
        ("name: g\ngroups: {G1: [a, a]}\n", r"lists 'a' twice"),
        ("name: g\ngroups: {G1: [a, b\n", r"not valid YAML at line"),
        ("- just a list\n", r"must be a mapping"),
    ],
)
def test_grouping_file_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_grouping(_write(tmp_path, text))


def test_unknown_grouping_name_lists_shipped():
    with pytest.raises(ConfigError, match=r"unknown grouping 'beauty_grouped'; shipped groupings are: beauty_grouped_a"):
        load_grouping("beauty_grouped")
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_grouping("missing/file.yaml")
