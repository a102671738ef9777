"""The names behind the codes targets carry: French departments and parliamentary groups.

Sources give codes (``33``, ``SOC``) and, sometimes, names in whatever case their export chose
("Haute-corse"); menus and constituencies show the names as they are usually written. A code we do not
know shows as itself.
"""

from __future__ import annotations

DEPARTMENTS = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire",
    "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère",
    "49": "Maine-et-Loire", "50": "Manche", "51": "Marne", "52": "Haute-Marne", "53": "Mayenne",
    "54": "Meurthe-et-Moselle", "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône",
    "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie",
    "75": "Paris", "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort",
    "91": "Essonne", "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "975": "Saint-Pierre-et-Miquelon",
    "976": "Mayotte", "977": "Saint-Barthélemy et Saint-Martin", "986": "Wallis-et-Futuna",
    "987": "Polynésie française", "988": "Nouvelle-Calédonie", "099": "Français établis hors de France",
}  # fmt: skip

# The groups of the Assemblée nationale (17th legislature) and of the Sénat, by the abbreviation sources use.
GROUPS = {
    "DEM": "Les Démocrates",
    "DR": "Droite Républicaine",
    "ECOS": "Écologiste et Social",
    "EPR": "Ensemble pour la République",
    "GDR": "Gauche Démocrate et Républicaine",
    "HOR": "Horizons & Indépendants",
    "LFI-NFP": "La France insoumise - Nouveau Front Populaire",
    "LIOT": "Libertés, Indépendants, Outre-mer et Territoires",
    "NI": "Non inscrit",
    "RN": "Rassemblement National",
    "SOC": "Socialistes et apparentés",
    "UDR": "Union des droites pour la République",
    # Sénat
    "LR": "Les Républicains",
    "SER": "Socialiste, Écologiste et Républicain",
    "UC": "Union Centriste",
    "RDPI": "Rassemblement des démocrates, progressistes et indépendants",
    "CRCE-K": "Communiste Républicain Citoyen et Écologiste – Kanaky",
    "GEST": "Écologiste – Solidarité et Territoires",
    "RDSE": "Rassemblement Démocratique et Social Européen",
    "LIRT": "Les Indépendants – République et Territoires",
}


def department_name(code: str) -> str:
    """The department's usual name, or "" for a code we do not know."""
    return DEPARTMENTS.get(code.upper() if code[:1] == "2" else code, "")


def department_label(code: str) -> str:
    """ "33 · Gironde" for a menu; the code alone when we do not know its name."""
    name = department_name(code)
    return f"{code} · {name}" if name else code


def group_label(code: str) -> str:
    """ "SOC · Socialistes et apparentés" for a menu; the value alone when it is a name already."""
    name = GROUPS.get(code.upper(), "")
    return f"{code} · {name}" if name and name != code else code
