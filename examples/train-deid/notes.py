#!/usr/bin/python3
"""A seeded generator of synthetic clinic notes with every identifier marked,
for training and testing Lepton's de-identification model.

Every note comes from a template (a note style: referral letter, discharge
summary, triage note, phone message, ...) whose slots are filled with
identifiers drawn from lists and formats written for this generator, and with
clinical filler (complaints, medicines, vital signs) that must NOT be masked.
Nothing comes from real patients: names are combinations of first names and
surnames from the lists below, dates, phone numbers, record numbers and
addresses are random.

The split is by template: each template belongs to exactly one of train,
validation and test, so the test notes are written in styles the model has
never seen. Names, streets and towns are split too (test notes use names the
model never saw in training), and a few formats of each identifier occur only
in test notes (marked "held-out" in each entity's "fmt"), to measure how the
model copes with formats it was not taught.

Entity types: NAME (people: patients, relatives, clinicians; titles such as
"Dr" or "Mrs" stay outside the span), DATE (calendar dates, dates of birth;
not times, durations or ages), PHONE (phone and fax numbers), ID (record,
NHS, insurance and accession numbers), ADDRESS (street addresses with town and
postcode, or parts of them), EMAIL.

Usage (from the repository root):

    /usr/bin/python3 examples/train-deid/notes.py --out /tmp/deid-model/notes.jsonl

prints a summary; each output line is {"id", "split", "template", "style",
"text", "entities": [{"type", "start", "end", "fmt"}]} with Unicode
code-point offsets (Python string indices) into text. The same seed gives the
same notes byte for byte.
"""

import argparse
import collections
import json
import random
import re
import sys

TYPES = ["NAME", "DATE", "PHONE", "ID", "ADDRESS", "EMAIL"]

# ----------------------------------------------------------------------------
# Lists. Names come from many languages, as a clinic's patients do.

FIRST_NAMES = """
Amelia Oliver Isla George Ava Noah Mia Arthur Ivy Leo Freya Oscar Florence Harry Lily Jack Evie Charlie
Grace Muhammad Sophia Theo Rosie Jacob Ella Alfie Willow Henry Aria Thomas Poppy Joshua Sienna William
Daisy James Olivia Finley Emily Lucas Chloe Ethan Hannah Samuel Zara Daniel Layla Joseph Aisha Adam
Fatima Yusuf Priya Arjun Ananya Rohan Kavya Vikram Meera Sanjay Deepa Rahul Nisha Wei Mei Jun Li Hui
Yan Hiroshi Yuki Kenji Sakura Takeshi Aiko Minh Linh Tuan Thi Seo-yeon Ji-ho Min-jun Kwame Ama Kofi
Abena Chinedu Ngozi Emeka Adaeze Tunde Folake Sipho Thandiwe Lerato Mandla Amara Zainab Omar Leila
Karim Yasmin Hassan Nadia Tariq Samira Mateo Sofia Santiago Valentina Diego Camila Javier Lucia Carlos
Elena Pablo Isabel Marco Giulia Luca Chiara Matteo Francesca Pierre Camille Louis Manon Hugo Chloé
Lukas Lena Jonas Anna Felix Mila Jan Zofia Piotr Katarzyna Tomasz Agnieszka Olga Dmitri Irina Sergei
Natalia Ivan Svetlana Aleksander Ingrid Lars Astrid Erik Sigrid Niamh Ciaran Siobhan Declan Aoife Rhys
Cerys Dylan Megan Gareth Bethan Hamish Morag Callum Eilidh Ewan Kirsty Dolores Earl Gladys Herbert
Mabel Clarence Edith Walter Mildred Harold Beatrice Stanley Agnes Cyril Winifred Bernard Hilda Derek
Maureen Trevor Brenda Keith Janet Graham Pauline Colin Sandra Nigel Tracey Wayne Sharon Darren Kelly
Jordan Taylor Morgan Casey Riley Alex Sam Jamie Robin Charlie Frankie Kai Rowan Quinn Eden Reese Ashley
""".split()

SURNAMES = """
Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright
Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill
Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker
Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy
Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Chen Wang Zhang Liu Huang
Nguyen Tran Pham Le Kim Park Choi Tanaka Sato Suzuki Watanabe Yamamoto Okafor Okonkwo Adeyemi Mensah
Boateng Asante Nkosi Dlamini Mahlangu Osei Abubakar Ibrahim Hussain Ahmed Ali Rahman Chowdhury Iqbal
Shah Mehta Sharma Gupta Iyer Reddy Nair Kapoor Banerjee Das Fernandes Garcia Rodriguez Martinez
Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores Rossi Russo Ferrari Esposito Bianchi
Romano Colombo Ricci Dubois Lefebvre Moreau Laurent Girard Müller Schmidt Schneider Fischer Weber
Wagner Becker Hoffmann Kowalski Nowak Wiśniewski Wójcik Kamińska Ivanov Petrov Sokolova Popescu
Horvath Novak Jensen Hansen Nielsen Larsen Andersen Johansson Karlsson Lindqvist O'Brien O'Connor
Murray Quinn Gallagher Byrne McCarthy Doyle MacDonald Campbell Stewart Robertson Fraser Cameron Grant
Sinclair Llewellyn Pritchard Vaughan Bowen Prosser Ashworth Fairbanks Whitfield Pemberton Thistlewood
Abernathy Ravensworth Gilchrist Hargreaves Oyelaran Van der Berg De Souza Al-Farsi Ben-David
""".split()
# Surnames that contain a space would be split by split(); patch the few.
SURNAMES = [s for s in SURNAMES if s not in ("Van", "der", "Berg", "De", "Souza")] + ["Van der Berg", "De Souza"]

STREETS = """
Elm Oak Maple Cedar Birch Willow Ash Rowan Hawthorn Chestnut Beech Poplar Larch Hazel Holly Laurel
Station Church Mill High Park Victoria Albert Queen King Princess York Manor Grove Meadow Orchard
Brook River Bridge Castle Abbey Priory Chapel Market Green Hill Valley Spring Garden Windsor Stanley
Nelson Wellington Clarendon Carlton Belmont Richmond Kingsway Fairview Highfield Southgate Northgate
Westfield Eastbourne Ashford Bramley Cromwell Gladstone Marlborough Palmerston Rosebery Tennyson
Wordsworth Shelley Keats Darwin Faraday Newton Lister Jenner Nightingale Seacole Pankhurst
""".split()
STREET_TYPES = ["Street", "Road", "Avenue", "Lane", "Close", "Drive", "Crescent", "Way", "Place", "Gardens",
                "Terrace", "Court", "Rise", "Mews", "Row", "Boulevard", "St", "Rd", "Ave"]
TOWNS = """
Springfield Riverside Fairfield Greenville Franklin Clinton Georgetown Salem Madison Ashland Burlington
Leeds Sheffield Bristol Norwich Exeter Derby Leicester Coventry Reading Oxford Cambridge Bath Chester
Durham Lancaster Preston Bolton Wigan Stockport Swindon Luton Bedford Ipswich Colchester Carlisle
Swansea Cardiff Newport Wrexham Bangor Dundee Perth Stirling Inverness Aberdeen Paisley Falkirk
Dover Hastings Brighton Worthing Portsmouth Salisbury Taunton Truro Penzance Kendal Whitby Harrogate
Bridgeport Dayton Akron Toledo Fresno Tacoma Boise Spokane Eugene Olympia Laramie Helena Billings
""".split()
US_STATES = ["IL", "OH", "CA", "WA", "OR", "TX", "NY", "PA", "MA", "MI", "WI", "MN", "CO", "AZ", "NC", "GA"]
EMAIL_DOMAINS = ["mailbox.org", "example.com", "post.example.net", "inbox.test", "webmail.example.org",
                 "family.example", "clinicmail.example.com", "nhs.example.uk"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
MON = [m[:3] for m in MONTHS]

# Clinical filler: must stay unmasked. Eponyms and drug names look like
# names; blood pressures and doses look like dates and numbers.
COMPLAINTS = ["chest pain", "shortness of breath", "a productive cough", "intermittent headaches",
              "lower back pain", "abdominal pain", "dizziness on standing", "a rash on both forearms",
              "fever and chills", "burning on urination", "palpitations", "ankle swelling",
              "poor sleep and low mood", "a sore throat", "knee pain after a fall", "blurred vision",
              "nausea and vomiting", "a persistent dry cough", "fatigue", "numbness in the left hand",
              "wheeze at night", "heartburn after meals", "joint stiffness in the mornings",
              "weight loss of about four kilograms", "an itchy scalp", "ear pain", "difficulty swallowing"]
DURATIONS = ["two days", "three days", "a week", "ten days", "two weeks", "three weeks", "a month",
             "six weeks", "two months", "several months", "48 hours", "5 days", "since the weekend",
             "since last Tuesday", "over the past year"]
MEDS = ["Metformin 500 mg twice daily", "Amlodipine 5 mg once daily", "Ramipril 2.5 mg daily",
        "Atorvastatin 20 mg at night", "Salbutamol inhaler 100 mcg as needed", "Omeprazole 20 mg daily",
        "Sertraline 50 mg daily", "Levothyroxine 75 mcg daily", "Paracetamol 1 g four times daily",
        "Ibuprofen 400 mg three times daily", "Amoxicillin 500 mg three times daily for 7 days",
        "Apixaban 5 mg twice daily", "Bisoprolol 2.5 mg daily", "Furosemide 40 mg in the morning",
        "Prednisolone 30 mg daily for 5 days", "Nitrofurantoin 100 mg twice daily for 3 days",
        "Insulin glargine 18 units at night", "Warfarin as per INR", "Co-codamol 30/500 two tablets as needed",
        "Doxycycline 100 mg daily", "Lansoprazole 30 mg daily", "Citalopram 20 mg daily"]
DIAGNOSES = ["type 2 diabetes", "hypertension", "asthma", "COPD", "atrial fibrillation", "heart failure",
             "chronic kidney disease stage 3", "hypothyroidism", "osteoarthritis of the knee", "migraine",
             "Parkinson's disease", "Crohn's disease", "Hodgkin lymphoma in remission", "Graves' disease",
             "Alzheimer's disease", "Bell's palsy", "Addison's disease", "Barrett's oesophagus",
             "gout", "depression", "generalised anxiety disorder", "iron deficiency anaemia",
             "community-acquired pneumonia", "a urinary tract infection", "cellulitis of the left leg",
             "Down syndrome", "Hashimoto's thyroiditis", "Raynaud's phenomenon", "Cushing's syndrome"]
EXAMS = ["Chest clear, heart sounds normal.", "Abdomen soft, mildly tender in the right iliac fossa.",
         "No focal neurological deficit.", "Mild pitting oedema to mid-shin bilaterally.",
         "Throat erythematous, no exudate.", "Tympanic membranes normal.", "Reduced air entry at the left base.",
         "Erythematous plaques on extensor surfaces.", "Full range of movement, tender over the medial joint line.",
         "Alert and oriented, GCS 15/15.", "Pupils equal and reactive.", "Capillary refill under 2 seconds."]
PLANS = ["Bloods today including FBC, U&E and CRP.", "Review in two weeks or sooner if worse.",
         "Safety-netting advice given.", "Referred to physiotherapy.", "Chest X-ray requested.",
         "ECG performed: sinus rhythm, rate 78.", "Urine dip sent for culture.", "Continue current medication.",
         "Increase the dose and recheck in 4 weeks.", "Advised rest, fluids and regular analgesia.",
         "Discussed at MDT on Thursday.", "Patient to self-monitor blood pressure at home.",
         "Smoking cessation advice given.", "Fit note issued for 2 weeks."]
WARDS = ["Ward 7", "Ward 12B", "the Acute Medical Unit", "the Emergency Department", "Critical Care",
         "the Day Surgery Unit", "Ward C4", "the Stroke Unit", "Maternity", "the Respiratory Ward"]
RELATIONS = ["daughter", "son", "wife", "husband", "partner", "mother", "father", "sister", "brother",
             "neighbour", "carer", "niece", "grandson"]
CLINICS = ["the cardiology clinic", "the diabetes clinic", "the memory clinic", "rheumatology", "dermatology",
           "the fracture clinic", "the respiratory team", "the falls service", "ENT", "gastroenterology"]


# ----------------------------------------------------------------------------
# Identifier formats. Each returns (text, fmt); fmt names the format so the
# evaluation can report formats seen in training apart from held-out ones.


def split_list(items, seed, name):
    """Deterministic disjoint train/validation/test shares of a list (60/15/25)."""
    r = random.Random(f"{seed}-{name}")
    items = sorted(set(items))
    r.shuffle(items)
    n = len(items)
    a, b = int(n * 0.60), int(n * 0.75)
    return {"train": items[:a], "validation": items[a:b], "test": items[b:]}


class Values:
    """Draws identifiers for one split: its names, streets and towns, and the
    formats allowed there (held-out formats only in test)."""

    def __init__(self, rng, split, seed):
        self.r = rng
        self.split = split
        self.test = split == "test"
        self.first = split_list(FIRST_NAMES, seed, "first")[split]
        self.last = split_list(SURNAMES, seed, "last")[split]
        self.streets = split_list(STREETS, seed, "streets")[split]
        self.towns = split_list(TOWNS, seed, "towns")[split]

    def pick(self, formats):
        """formats: [(weight, fn, heldout)]; held-out ones only in test."""
        fs = [(w, f) for w, f, held in formats if self.test or not held]
        tot = sum(w for w, _ in fs)
        u = self.r.random() * tot
        for w, f in fs:
            if u < w:
                return f
            u -= w
        return fs[-1][1]

    # People -----------------------------------------------------------------

    def person(self):
        return {"first": self.r.choice(self.first), "last": self.r.choice(self.last),
                "middle": self.r.choice(self.first), "sex": self.r.choice("FM")}

    def name(self, p, style=None):
        r = self.r
        f, l, m = p["first"], p["last"], p["middle"]
        forms = [
            (6, lambda: (f"{f} {l}", "first last"), False),
            (2, lambda: (f"{l}, {f}", "last, first"), False),
            (1.5, lambda: (f"{f[0]}. {l}", "initial last"), False),
            (1, lambda: (f"{f} {m[0]}. {l}", "first middle-initial last"), False),
            (1, lambda: (f"{f} {m} {l}", "first middle last"), False),
            (1.5, lambda: (f"{l.upper()}, {f}", "LAST, first (held-out)"), True),
            (1, lambda: (f"{f[0]}{l[0]}", "initials (held-out)"), True),
        ]
        if style == "full":
            return f"{f} {l}", "first last"
        if style == "first":
            return f, "first"
        if style == "last":
            return l, "last"
        return self.pick(forms)()

    # Dates ------------------------------------------------------------------

    def ymd(self, lo=1930, hi=2026):
        y = self.r.randint(lo, hi)
        mo = self.r.randint(1, 12)
        d = self.r.randint(1, 28 if mo == 2 else 30)
        return y, mo, d

    def date(self, lo=2015, hi=2026):
        y, mo, d = self.ymd(lo, hi)
        r = self.r

        def ordinal(n):
            return f"{n}{'th' if 11 <= n % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"

        forms = [
            (4, lambda: (f"{d:02d}/{mo:02d}/{y}", "dd/mm/yyyy"), False),
            (2, lambda: (f"{mo}/{d}/{y}", "m/d/yyyy"), False),
            (1.5, lambda: (f"{d}/{mo}/{y % 100:02d}", "d/m/yy"), False),
            (2, lambda: (f"{y}-{mo:02d}-{d:02d}", "yyyy-mm-dd"), False),
            (2.5, lambda: (f"{d} {MONTHS[mo - 1]} {y}", "d Month yyyy"), False),
            (2, lambda: (f"{MONTHS[mo - 1]} {d}, {y}", "Month d, yyyy"), False),
            (1.5, lambda: (f"{d:02d}-{MON[mo - 1]}-{y}", "dd-Mon-yyyy"), False),
            (1, lambda: (f"{d} {MON[mo - 1]} {y}", "d Mon yyyy"), False),
            (1, lambda: (f"{ordinal(d)} {MONTHS[mo - 1]}", "dth Month"), False),
            (1, lambda: (f"{MONTHS[mo - 1]} {y}", "Month yyyy"), False),
            (1.5, lambda: (f"{d:02d}.{mo:02d}.{y}", "dd.mm.yyyy (held-out)"), True),
            (1, lambda: (f"{ordinal(d)} of {MONTHS[mo - 1]} {y}", "dth of Month yyyy (held-out)"), True),
            (1, lambda: (f"{y}{mo:02d}{d:02d}", "yyyymmdd (held-out)"), True),
        ]
        return self.pick(forms)()

    def dob(self):
        return self.date(1930, 2020)

    # Phones -----------------------------------------------------------------

    def digits(self, n):
        return "".join(str(self.r.randint(0, 9)) for _ in range(n))

    def phone(self):
        r = self.r
        a, b, c = str(r.randint(201, 989)), self.digits(3), self.digits(4)
        forms = [
            (3, lambda: (f"({a}) {b}-{c}", "(aaa) bbb-cccc"), False),
            (2.5, lambda: (f"{a}-{b}-{c}", "aaa-bbb-cccc"), False),
            (1, lambda: (f"{a}.{b}.{c}", "aaa.bbb.cccc"), False),
            (1.5, lambda: (f"+1 {a} {b} {c}", "+1 aaa bbb cccc"), False),
            (2.5, lambda: (f"0{r.choice(['20', '113', '161', '121', '1865', '117'])} {self.digits(3)} {self.digits(4)}", "UK landline"), False),
            (2.5, lambda: (f"07{self.digits(3)} {self.digits(6)}", "UK mobile"), False),
            (1, lambda: (f"+44 7{self.digits(3)} {self.digits(6)}", "+44 mobile"), False),
            (1, lambda: (f"{b}-{c}", "bbb-cccc"), False),
            (1.5, lambda: (f"+44 (0){r.choice(['20', '113', '161'])} {self.digits(4)} {self.digits(4)}", "+44 (0) landline (held-out)"), True),
            (1, lambda: (f"07{self.digits(9)}", "07 unspaced (held-out)"), True),
        ]
        return self.pick(forms)()

    # Record numbers ---------------------------------------------------------

    def ident(self):
        r = self.r
        L = "ABCDEFGHJKLMNPRSTUVWXYZ"
        forms = [
            (3, lambda: (self.digits(8), "8 digits"), False),
            (2, lambda: (f"{self.digits(3)} {self.digits(3)} {self.digits(4)}", "NHS 3-3-4"), False),
            (2, lambda: (f"{r.choice(L)}{self.digits(7)}", "letter + 7 digits"), False),
            (1.5, lambda: (f"{self.digits(4)}-{self.digits(4)}", "4-4 digits"), False),
            (1.5, lambda: (f"{r.choice(L)}{r.choice(L)}-{r.randint(2015, 2026)}-{self.digits(5)}", "LL-yyyy-nnnnn"), False),
            (1, lambda: (f"{r.choice(L)}{r.choice(L)}{r.choice(L)}{self.digits(9)}", "LLL + 9 digits"), False),
            (1, lambda: (f"{self.digits(6)}", "6 digits"), False),
            (1.5, lambda: (f"{self.digits(3)}-{self.digits(2)}-{self.digits(4)}", "3-2-4 digits (held-out)"), True),
            (1, lambda: (f"{r.choice(L)}{r.choice(L)}/{self.digits(5)}/{r.choice(L)}", "LL/nnnnn/L (held-out)"), True),
        ]
        return self.pick(forms)()

    # Addresses --------------------------------------------------------------

    def postcode_uk(self):
        r = self.r
        L = "ABDEFGHJLNPQRSTUWXYZ"
        return f"{r.choice('BCDELMNSW')}{r.choice(L)}{r.randint(1, 28)} {r.randint(1, 9)}{r.choice(L)}{r.choice(L)}"

    def address(self):
        r = self.r
        no = r.randint(1, 240)
        st = f"{r.choice(self.streets)} {r.choice(STREET_TYPES)}"
        town = r.choice(self.towns)
        forms = [
            (3, lambda: (f"{no} {st}, {town}", "no street, town"), False),
            (2.5, lambda: (f"{no} {st}, {town} {self.postcode_uk()}", "no street, town postcode"), False),
            (2, lambda: (f"{no} {st}, {town}, {r.choice(US_STATES)} {self.digits(5)}", "no street, town, ST zip"), False),
            (1.5, lambda: (f"Flat {r.randint(1, 30)}, {no} {st}, {town}", "flat, no street, town"), False),
            (1, lambda: (f"{no} {st}", "no street"), False),
            (1, lambda: (f"{town} {self.postcode_uk()}", "town postcode"), False),
            (1, lambda: (f"Apt {r.randint(1, 40)}{r.choice('ABCD')}, {no} {st}, {town}", "apt, no street, town"), False),
            (1.5, lambda: (f"{no} {st}\n{town}\n{self.postcode_uk()}", "multi-line (held-out)"), True),
            (1, lambda: (f"PO Box {r.randint(10, 9999)}, {town}", "PO Box (held-out)"), True),
        ]
        return self.pick(forms)()

    def email(self, p):
        r = self.r
        f, l = p["first"].lower(), p["last"].lower().replace(" ", "").replace("'", "")
        f = f.encode("ascii", "ignore").decode() or "x"
        l = l.encode("ascii", "ignore").decode() or "y"
        forms = [
            (3, lambda: (f"{f}.{l}@{r.choice(EMAIL_DOMAINS)}", "first.last@domain"), False),
            (2, lambda: (f"{f[0]}{l}{r.randint(1, 99)}@{r.choice(EMAIL_DOMAINS)}", "flastNN@domain"), False),
            (1, lambda: (f"{l}_{f}@{r.choice(EMAIL_DOMAINS)}", "last_first@domain"), False),
            (1, lambda: (f"{f}{l[0]}{r.randint(1950, 2005)}@{r.choice(EMAIL_DOMAINS)}", "firstLyyyy@domain (held-out)"), True),
        ]
        return self.pick(forms)()


# ----------------------------------------------------------------------------
# Templates. Syntax: <slot> is filled (identifier slots are recorded as
# entities); {{a|b|c}} picks one alternative; [[text]] appears with
# probability one half. Slots:
#   <patient> a form of the patient's name; <pfirst> <plast> <pfull> fixed forms
#   <title> Mr/Mrs/Ms/Miss/Mx by sex (not an entity)
#   <doctor> a clinician's name (a new clinician each time); <doc2> the
#     note's second clinician, the same person each time
#   <relname> a relative's first name; <rel> the relation
#   <date> a date; <dob> the patient's date of birth (the same each time)
#   <phone> <mrn> <nhs> <address> <email> (the patient's email)
#   filler: <complaint> <duration> <med> <dx> <exam> <plan> <ward> <clinic>
#     <age> <bp> <hr> <temp> <spo2> <time> <num>

TEMPLATES = [
    # name, style, text
    ("referral-letter", "letter", """Dear Dr <doctor>,

Re: <patient>, DOB <dob>, {{MRN|Hospital no.|NHS number}} <mrn>
Address: <address>

Thank you for seeing this <age>-year-old {{man|woman|patient}} who presented on <date> with <complaint> for <duration>. [[Past history includes <dx>.]] Current medication: <med>. <exam>

I would be grateful for your opinion regarding further management. [[<title> <plast> can be contacted on <phone>.]]

Yours sincerely,
Dr <doc2>"""),
    ("discharge-summary", "summary", """DISCHARGE SUMMARY
Patient: <patient>    DOB: <dob>    MRN: <mrn>
Admitted: <date>    Discharged: <date>
Ward: <ward>    Consultant: Dr <doc2>

Presenting complaint: <complaint>.
Diagnosis: <dx>.
Course: Treated with IV fluids and <med>. {{Improved steadily.|Slow but steady improvement.|Made an uneventful recovery.}}
Discharge medication: <med>; <med>.
Follow-up: {{GP review in 1 week|Outpatient clinic in 6 weeks|Telephone review by Dr <doctor>}}.
[[Next of kin: <relname> (<rel>), tel <phone>.]]"""),
    ("triage-note", "ed", """ED TRIAGE <time> <date>
Name: <patient> | DOB <dob> | ID <mrn>
PC: <complaint> x <duration>. Obs: BP <bp>, HR <hr>, T <temp>, SpO2 <spo2>%.
Triage category {{2|3|4}}. [[Accompanied by <rel> <relname>.]] Seen by Dr <doctor>."""),
    ("phone-message", "message", """Telephone message taken <date> at <time>
Caller: <relname> (<rel> of <patient>)
Call back on: <phone>
Message: {{Asking for a repeat prescription of|Worried about side effects of|Querying the dose of}} <med>. [[Patient's NHS no. <nhs>.]] Please ring back before 5pm."""),
    ("soap-progress", "progress", """S: <pfirst> reports <complaint> since <date>. [[Sleep poor.]] Taking <med>.
O: <exam> BP <bp>, pulse <hr>.
A: {{Likely|Probable|Possible}} <dx>.
P: <plan> [[Dr <doctor> to review.]]
Signed <doc2>, <date>"""),
    ("clinic-letter-to-patient", "letter", """<address>

<date>

Dear <title> <plast>,

Your appointment at <clinic> has been booked for <date> at <time>. Please bring a list of your medicines, including <med>. If you cannot attend, call us on <phone> quoting reference <mrn>.

Kind regards,
<doctor>
Appointments Office"""),
    ("lab-result", "lab", """LABORATORY REPORT
Patient{{ name|}}: <patient>   Lab no: <mrn>
Collected: <date>   Reported: <date>
Requesting clinician: Dr <doctor>
HbA1c 58 mmol/mol (ref 20-41). eGFR 52. K+ 4.6 mmol/L. {{Results phoned to|Results sent to|Discussed with}} <pfirst> on <date>."""),
    ("nursing-handover", "handover", """Handover <ward>, bed {{3|7|12|14|22}}: <patient>, <age>, admitted <date> with <dx>. NEWS {{1|2|4}}. Family: <rel> <relname> visiting daily, contact <phone>. [[DNACPR discussed with Dr <doctor>.]] Plan: <plan>"""),
    ("prescription", "prescription", """Rx for: <patient>
Date of birth: <dob>
Address: <address>
<med>
Prescriber: Dr <doctor> (GMC {{no.|number}} <mrn>)
Date: <date>"""),
    ("radiology-report", "report", """CHEST RADIOGRAPH ({{PA|AP}})
Patient: <patient>, MRN <mrn>, examined <date>.
Clinical details: <complaint>, ?<dx>.
Findings: {{No consolidation or effusion.|Right lower lobe consolidation.|Cardiomegaly with upper lobe diversion.}} {{Heart size normal.|No pneumothorax.}}
Reported by Dr <doctor> on <date>."""),
    ("email-to-gp", "email", """From: <email>
Sent: <date>
Subject: {{My test results|Repeat prescription|Appointment}}

Hi Dr <doctor>, this is <patient> (date of birth <dob>). I have had <complaint> for <duration> and wondered if I need to come in. My number is <phone>. Thanks, <pfirst>"""),
    ("home-visit", "visit", """Home visit <date>, <address>. <title> <plast> ({{aged|age}} <age>) seen with <rel> <relname> present. <complaint> for <duration>. <exam> Plan: <plan> Next visit booked for <date>. Dr <doc2>"""),
    ("safeguarding", "narrative", """Safeguarding concern raised on <date> by {{nurse|HCA|social worker}} <doctor> regarding <patient> of <address>. The {{patient|child|resident}} was brought in by <rel> <relname> (tel <phone>). Concerns discussed with Dr <doc2>; referral reference <mrn>."""),
    ("operation-note", "report", """OPERATION NOTE
Date: <date>   Patient: <patient>   Hospital no: <mrn>
Surgeon: <doctor>   Assistant: <doc2>   Anaesthetist: Dr <doctor>
Procedure: {{laparoscopic cholecystectomy|right total knee replacement|appendicectomy|carpal tunnel release}}.
Findings: {{uncomplicated|inflamed, no perforation|moderate adhesions}}. EBL 150 ml.
Post-op: <med>; mobilise day 1; review in clinic <date>."""),
    ("immunisation-record", "record", """Immunisation record - <patient>, DOB <dob>, NHS <nhs>
Vaccine: {{influenza|COVID-19 booster|pneumococcal|shingles}} given <date> by <doctor>, batch {{FL|CV|PN}}<num>. Next due <date>. Contact number on file: <phone>."""),
    ("mental-health", "narrative", """<pfirst> attended with {{her|his|their}} <rel> <relname> on <date>. Reports low mood and poor sleep since <date>. No thoughts of self-harm. PHQ-9 score {{14|9|19}}. Started <med>. Crisis line number given; <pfirst> prefers contact on <phone> or by email to <email>. Review with <doctor> on <date>."""),
    ("transfer-letter", "letter", """To the duty doctor, <ward>

We are transferring <patient> (<age> y, MRN <mrn>, NHS <nhs>) for further management of <dx>. Observations at <time>: BP <bp>, HR <hr>, sats <spo2>%. Medication given: <med>. Home address <address>; next of kin <relname> (<rel>), <phone>.

Dr <doc2>, <date>"""),
    ("maternity", "narrative", """Antenatal booking <date>. <patient>, G2P1, LMP <date>, EDD <date>. Partner <relname>. Address <address>. BP <bp>. Midwife: <doctor>, contact <phone>. Hospital number <mrn>."""),
    ("physio", "progress", """Physiotherapy assessment, <date>
<patient> ({{ref|referral}} <mrn>) referred by Dr <doctor> for <complaint>. Goal: walk to the shops independently. Exercises taught; leaflet given. Next appointment <date>; call <phone> to rearrange."""),
    ("death-certificate-note", "record", """Verification of death: <patient>, born <dob>, of <address>, was verified dead at <time> on <date> by <doctor>. Next of kin <relname> (<rel>) informed by telephone on <phone>. Coroner {{not required|informed, ref}} <mrn>."""),
    ("pharmacy-query", "message", """Pharmacy query <date>: <title> <patient> (DOB <dob>) presented a prescription for <med> signed by Dr <doctor>. Interaction with <med>? Pharmacist <doc2> on <phone>, fax <phone>."""),
    ("outpatient-clinic", "letter", """{{Cardiology|Respiratory|Diabetes|Neurology}} Outpatient Clinic, <date>
Consultant: Dr <doc2>
Patient: <patient>, <address>
Hospital number: <mrn>

Diagnoses: 1. <dx> 2. <dx>
I reviewed <pfirst> today. {{He|She|They}} reports <complaint> for <duration>. <exam> BP <bp>. Plan: <plan> I will see {{him|her|them}} again on <date>.
cc: Dr <doctor>, GP"""),
    ("sick-note", "record", """Statement of fitness for work
Patient: <patient>   Date of birth: <dob>   NI number: <mrn>
Condition: <dx>. Not fit for work from <date> to <date>.
Doctor: <doctor>, <address>, tel <phone>."""),
    ("ambulance-handover", "ed", """ATMIST <time>: <age> y/o {{male|female}} <patient>, found at <address>. M: fall, <complaint>. I: {{head laceration|suspected NOF fracture|none obvious}}. S: BP <bp>, HR <hr>, SpO2 <spo2>%. T: <med>. Wife/husband/carer: <relname>, <phone>. Crew ref <mrn>."""),
    ("research-consent", "record", """Research consent recorded <date>. Participant <patient> ({{study|trial}} ID <mrn>) consented by <doctor>. Contact details: <address>; <phone>; <email>. Withdrawal possible at any time."""),
    ("gp-consultation", "progress", """Consultation <date> <time> with Dr <doc2>
<pfull>, <age>. History: <complaint> for <duration>, worse at night. PMH: <dx>. DH: <med>. Exam: <exam> Imp: <dx>. Plan: <plan>"""),
    ("dental", "narrative", """Dental record for <patient>, DOB <dob>. Attended <date> with toothache lower left. Extraction of LL6 under LA. Next check-up <date>. Reminder texts to <phone>."""),
    ("falls-clinic", "letter", """Falls Clinic - <date>
Re: <title> <patient>, <address>, DOB <dob>
Dear Dr <doctor>,
<pfirst> has had three falls since <date>, the last at home on <date>. Lying/standing BP <bp>. Medication review: stop <med>. {{Daughter|Son|Carer}} <relname> will supervise; {{her|his}} number is <phone>.
Dr <doc2>, Geriatrics"""),
    ("chemo-letter", "letter", """Oncology Day Unit
<date>
Patient: <patient>   NHS: <nhs>   MRN: <mrn>
Cycle {{2|3|4}} of {{ABVD|FOLFOX|R-CHOP}} given today without complication. Neutrophils 2.1. Next cycle <date>. Emergency line <phone>. Signed <doctor>, {{CNS|Registrar}}."""),
    ("diabetes-review", "progress", """Annual diabetes review <date>
{{<pfirst>|<pfull>}} (MRN <mrn>) - HbA1c 62, BMI 31, foot check normal, retinal screening booked for <date>. On <med>. Discussed diet with <rel> <relname>. Next review <date>. Dietitian: <doctor>."""),
    ("paediatric", "narrative", """Child: <patient>, DOB <dob>, brought by <rel> <relname> on <date>. {{Fever|Cough|Rash}} for <duration>. Weight 14.2 kg. <exam> Parent advised on fluids and paracetamol. School nurse <doctor> informed. Home: <address>. Tel <phone>."""),
    ("incident-report", "report", """INCIDENT REPORT {{IR|DATIX}}-<num>
Date of incident: <date>, time <time>, <ward>.
Person affected: <patient> (MRN <mrn>).
Description: patient found on floor beside bed; no injury. Observed by <doctor>. Family (<relname>, <phone>) informed on <date>."""),
    ("insurance-form", "record", """Insurance claim form
Policy holder: <patient>   Member ID: <mrn>   Date of birth: <dob>
Address: <address>   Email: <email>   Phone: <phone>
Treatment date: <date>. Treating clinician: <doctor>. Diagnosis: <dx>."""),
    ("ward-round", "progress", """WR <date> - Dr <doc2> (cons), Dr <doctor> (FY1)
<pfull>, day {{2|3|5}} post admission with <dx>. Feels {{better|the same|worse}}. Obs stable, BP <bp>. Bloods: CRP falling. Plan: <plan> Update <rel> <relname> on <phone>."""),
    ("audiology", "narrative", """Audiology {{assessment|review}} <date>. <patient> (<mrn>) reports reduced hearing on the left for <duration>. Tympanometry normal. Hearing aid fitted by <doctor>. Batteries can be posted to <address>."""),
    ("optometry", "letter", """Dear Dr <doctor>,
I examined <patient>, DOB <dob>, on <date>. Visual acuity 6/9 right, 6/12 left. Intraocular pressures 24 and 26 mmHg. I would be grateful for a glaucoma referral. The patient can be reached at <phone>.
<doc2>, Optometrist"""),
    ("care-home", "handover", """Care home update for <patient> at <address>, received <date>. Staff nurse <doctor> reports <complaint> and reduced intake for <duration>. Next of kin <relname> (<rel>) aware, tel <phone>. Please visit; GP <doc2>."""),
    ("vaccination-recall", "letter", """<date>
<title> <plast>
<address>
Dear <pfirst>,
Our records show you are due your {{flu|shingles|pneumococcal}} vaccination. Please book by calling <phone> or emailing the practice. Your NHS number is <nhs>.
<doctor>, Practice Nurse"""),
]


def template_split(seed):
    """Assigns each template to one split: 26 train, 5 validation, 8 test
    (shuffled with the seed; every style keeps some training template)."""
    names = [t[0] for t in TEMPLATES]
    r = random.Random(f"{seed}-templates")
    r.shuffle(names)
    n_test, n_val = 8, 5
    out = {}
    for i, n in enumerate(names):
        out[n] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


# ----------------------------------------------------------------------------
# Expansion


class Note:
    def __init__(self):
        self.parts = []
        self.entities = []
        self.pos = 0

    def add(self, s, etype=None, fmt=None):
        if etype:
            self.entities.append({"type": etype, "start": self.pos, "end": self.pos + len(s), "fmt": fmt})
        self.parts.append(s)
        self.pos += len(s)

    def text(self):
        return "".join(self.parts)


TOKEN_RE = re.compile(r"<([a-z0-9]+)>|\{\{|\}\}|\[\[|\]\]|\|")


def parse(t):
    """Parses template syntax into a tree: a list of str | ("slot", name) |
    ("alt", [list, ...]) | ("opt", list). A "|" outside {{...}} is text."""
    pos = 0

    def seq(stops):
        # Returns (items, the stop token that ended the sequence or None).
        nonlocal pos
        out = []
        while True:
            m = TOKEN_RE.search(t, pos)
            if not m:
                out.append(t[pos:])
                pos = len(t)
                return out, None
            if m.start() > pos:
                out.append(t[pos:m.start()])
            tok = m.group(0)
            pos = m.end()
            if m.group(1):
                out.append(("slot", m.group(1)))
            elif tok in stops:
                return out, tok
            elif tok == "{{":
                alts = []
                while True:
                    part, end = seq(("|", "}}"))
                    alts.append(part)
                    if end == "}}":
                        break
                    if end is None:
                        raise ValueError(f"unclosed {{{{ in template: {t[:60]!r}")
                out.append(("alt", alts))
            elif tok == "[[":
                part, end = seq(("]]",))
                if end is None:
                    raise ValueError(f"unclosed [[ in template: {t[:60]!r}")
                out.append(("opt", part))
            elif tok == "|":
                out.append("|")
            else:
                raise ValueError(f"unexpected {tok!r} in template {t[:60]!r}")

    tree, end = seq(())
    assert end is None
    return tree


class Filler:
    def __init__(self, values, rng):
        self.v = values
        self.r = rng
        self.patient = values.person()
        self.dob = values.dob()
        self.doc2 = values.name(values.person())
        self.relname = values.name(values.person(), "first")
        self.rel = rng.choice(RELATIONS)
        self.pemail = values.email(self.patient)

    def fill(self, note, slot):
        v, r, p = self.v, self.r, self.patient
        if slot == "patient":
            s, f = v.name(p)
            note.add(s, "NAME", f)
        elif slot == "pfirst":
            note.add(p["first"], "NAME", "first")
        elif slot == "plast":
            note.add(p["last"], "NAME", "last")
        elif slot == "pfull":
            note.add(f"{p['first']} {p['last']}", "NAME", "first last")
        elif slot == "title":
            note.add({"F": r.choice(["Mrs", "Ms", "Miss"]), "M": "Mr"}[p["sex"]] if r.random() > 0.05 else "Mx")
        elif slot == "doctor":
            s, f = v.name(v.person())
            note.add(s, "NAME", f)
        elif slot == "doc2":
            note.add(self.doc2[0], "NAME", self.doc2[1])
        elif slot == "relname":
            note.add(self.relname[0], "NAME", "first")
        elif slot == "rel":
            note.add(self.rel)
        elif slot == "date":
            s, f = v.date()
            note.add(s, "DATE", f)
        elif slot == "dob":
            note.add(self.dob[0], "DATE", self.dob[1])
        elif slot == "phone":
            s, f = v.phone()
            note.add(s, "PHONE", f)
        elif slot in ("mrn", "nhs"):
            s, f = v.ident()
            note.add(s, "ID", f)
        elif slot == "address":
            s, f = v.address()
            note.add(s, "ADDRESS", f)
        elif slot == "email":
            note.add(self.pemail[0], "EMAIL", self.pemail[1])
        elif slot == "complaint":
            note.add(r.choice(COMPLAINTS))
        elif slot == "duration":
            note.add(r.choice(DURATIONS))
        elif slot == "med":
            note.add(r.choice(MEDS))
        elif slot == "dx":
            note.add(r.choice(DIAGNOSES))
        elif slot == "exam":
            note.add(r.choice(EXAMS))
        elif slot == "plan":
            note.add(r.choice(PLANS))
        elif slot == "ward":
            note.add(r.choice(WARDS))
        elif slot == "clinic":
            note.add(r.choice(CLINICS))
        elif slot == "age":
            note.add(str(r.randint(18, 89)))
        elif slot == "bp":
            note.add(f"{r.randint(90, 180)}/{r.randint(50, 105)}")
        elif slot == "hr":
            note.add(str(r.randint(48, 130)))
        elif slot == "temp":
            note.add(f"{r.randint(355, 395) / 10:.1f}")
        elif slot == "spo2":
            note.add(str(r.randint(88, 100)))
        elif slot == "time":
            note.add(r.choice([f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}", f"{r.randint(1, 12)}.{r.randint(0, 59):02d}{r.choice(['am', 'pm'])}",
                               f"{r.randint(0, 23):02d}{r.randint(0, 59):02d}h"]))
        elif slot == "num":
            note.add(str(r.randint(1000, 99999)))
        else:
            raise ValueError(f"unknown slot <{slot}>")


def expand(tree, note, filler, rng):
    for x in tree:
        if isinstance(x, str):
            note.add(x)
        elif x[0] == "slot":
            filler.fill(note, x[1])
        elif x[0] == "alt":
            expand(rng.choice(x[1]), note, filler, rng)
        elif x[0] == "opt":
            if rng.random() < 0.5:
                expand(x[1], note, filler, rng)


def tidy(note):
    """Collapses the doubled spaces that omitted [[...]] parts leave, and
    strips leading and trailing blank space, keeping entity offsets right."""
    text = note.text()
    newidx, out = {}, []
    for i, ch in enumerate(text):
        if ch == " " and out and out[-1] in " \n":
            continue
        newidx[i] = len(out)
        out.append(ch)
    out = "".join(out)
    lead = len(out) - len(out.lstrip("\n "))
    ents = []
    for e in note.entities:
        s, t = newidx[e["start"]] - lead, newidx[e["end"] - 1] + 1 - lead
        ents.append(dict(e, start=s, end=t))
    out = out.strip("\n ")
    for e, e0 in zip(ents, note.entities):
        assert out[e["start"]:e["end"]] == text[e0["start"]:e0["end"]], (out, e)
    return out, ents


def generate(seed, per_template):
    splits = template_split(seed)
    trees = {n: parse(t) for n, _, t in TEMPLATES}
    notes = []
    for ti, (name, style, _) in enumerate(TEMPLATES):
        split = splits[name]
        rng = random.Random(f"{seed}-{name}")
        values = Values(rng, split, seed)
        for k in range(per_template[split]):
            note = Note()
            expand(trees[name], note, Filler(values, rng), rng)
            text, ents = tidy(note)
            for e in ents:
                assert text[e["start"]:e["end"]].strip() == text[e["start"]:e["end"]], (name, e)
            notes.append({"id": f"{name}-{k:04d}", "split": split, "template": name, "style": style,
                          "text": text, "entities": ents})
    return notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-per-template", type=int, default=120)
    ap.add_argument("--val-per-template", type=int, default=40)
    ap.add_argument("--test-per-template", type=int, default=60)
    args = ap.parse_args()
    notes = generate(args.seed, {"train": args.train_per_template, "validation": args.val_per_template,
                                 "test": args.test_per_template})
    with open(args.out, "w", encoding="utf-8") as f:
        for n in notes:
            f.write(json.dumps(n, ensure_ascii=False) + "\n")
    c = collections.Counter(n["split"] for n in notes)
    e = collections.Counter((n["split"], x["type"]) for n in notes for x in n["entities"])
    print(f"{len(notes)} notes: " + ", ".join(f"{k} {c[k]}" for k in ("train", "validation", "test")), file=sys.stderr)
    for s in ("train", "validation", "test"):
        print(f"  {s:10s} " + " ".join(f"{t} {e[(s, t)]}" for t in TYPES), file=sys.stderr)


if __name__ == "__main__":
    main()
