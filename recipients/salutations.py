"""`{salutation}`: how to address a target, by role, gender and language (a target's own text wins)."""

from __future__ import annotations

from recipients.models import Gender, TargetRole

_FR: dict[TargetRole, tuple[str, str]] = {  # (female, male)
    TargetRole.DEPUTY: ("Madame la Députée", "Monsieur le Député"),
    TargetRole.SENATOR: ("Madame la Sénatrice", "Monsieur le Sénateur"),
    TargetRole.MINISTER: ("Madame la Ministre", "Monsieur le Ministre"),
    TargetRole.MEP: ("Madame la Députée européenne", "Monsieur le Député européen"),
    TargetRole.REPRESENTATIVE: ("Madame la Représentante", "Monsieur le Représentant"),
}
_EN: dict[TargetRole, str] = {
    TargetRole.DEPUTY: "Dear {name}",
    TargetRole.SENATOR: "Dear Senator {last}",
    TargetRole.MINISTER: "Dear Minister",
    TargetRole.MEP: "Dear {name}",
    TargetRole.REPRESENTATIVE: "Dear Representative {last}",
}


def salutation(
    *, role: TargetRole, gender: Gender | None, language: str, first_name: str, last_name: str, override: str = ""
) -> str:
    """The greeting for a target in `language` ('fr' or 'en')."""
    if override.strip():
        return override.strip()
    name = f"{first_name} {last_name}".strip()
    if language == "fr":
        pair = _FR.get(role)
        if pair is None or gender is None:
            return "Madame, Monsieur"
        return pair[0] if gender is Gender.FEMALE else pair[1]
    return _EN.get(role, "Dear {name}").format(name=name, last=last_name or name)
