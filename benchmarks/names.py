"""Indian first names and surnames for the generated people, with their normalised forms.

Every name is plain ASCII letters, so the normalised name of ``"First Last"``
is ``"first last"``; honorifics and middle initials are added by the
generator, which strips them again for ``normalized_name`` exactly as
``velocity_domain.kernel.normalize.normalize_name`` would (a sample is checked
against the library on every generation).
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aarav", "Aditi", "Aditya", "Ajay", "Akash", "Amit", "Amrita", "Ananya", "Anil", "Anita",
    "Anjali", "Ankit", "Anupam", "Arjun", "Arun", "Asha", "Ashok", "Avinash", "Bhavna", "Chetan",
    "Deepa", "Deepak", "Dev", "Dhruv", "Divya", "Farhan", "Gaurav", "Geeta", "Harish", "Harsha",
    "Indira", "Ishaan", "Jaya", "Jyoti", "Kabir", "Kajal", "Kamal", "Karan", "Kavita", "Kiran",
    "Krishna", "Lakshmi", "Madhav", "Mahesh", "Manish", "Manoj", "Meena", "Meera", "Mohan",
    "Mukesh", "Nandini", "Naveen", "Neha", "Nikhil", "Nisha", "Pallavi", "Pankaj", "Pooja",
    "Pradeep", "Pradip", "Prakash", "Pranav", "Prateek", "Priya", "Rahul", "Rajesh", "Rakesh",
    "Ramesh", "Ravi", "Rekha", "Ritu", "Rohan", "Rohit", "Sachin", "Sagar", "Sameer", "Sandeep",
    "Sanjay", "Sarita", "Seema", "Shalini", "Shilpa", "Shreya", "Siddharth", "Simran", "Sneha",
    "Sonal", "Sunil", "Sunita", "Suresh", "Swati", "Tanvi", "Tarun", "Uma", "Usha", "Varun",
    "Vidya", "Vijay", "Vikram", "Vinay", "Vishal", "Yash", "Zoya", "Irfan", "Ayesha", "Imran",
    "Fatima", "Gurpreet", "Harpreet", "Jaspreet", "Manpreet", "Joseph", "Mary", "Thomas",
    "Anand", "Bharat", "Chitra", "Dinesh", "Gopal", "Hema", "Jagdish", "Kishore", "Lata",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "Agarwal", "Ahmed", "Ahuja", "Bajaj", "Banerjee", "Bhattacharya", "Bose", "Chakraborty",
    "Chatterjee", "Chauhan", "Chopra", "Das", "Desai", "Deshmukh", "Deshpande", "Dutta",
    "Fernandes", "Gandhi", "Ghosh", "Gill", "Goswami", "Gupta", "Hegde", "Iyer", "Iyengar",
    "Jain", "Joshi", "Kapoor", "Khan", "Khanna", "Kulkarni", "Kumar", "Mehta", "Menon", "Mishra",
    "Mukherjee", "Naidu", "Nair", "Pandey", "Patel", "Patil", "Pillai", "Prasad", "Rao",
    "Reddy", "Roy", "Saxena", "Sen", "Sengupta", "Shah", "Sharma", "Shetty", "Singh", "Sinha",
    "Srinivasan", "Subramanian", "Thakur", "Trivedi", "Varma", "Verma", "Yadav", "Bhatt",
    "Chandra", "Dubey", "Gowda", "Kamath", "Krishnan", "Lal", "Malhotra", "Mathur", "Nayak",
    "Oberoi", "Pathak", "Rajan", "Rastogi", "Sethi", "Tiwari", "Upadhyay", "Venkatesh", "Walia",
)  # fmt: skip

#: Titles put in front of some full names; ``normalize_name`` drops them.
HONORIFICS: tuple[str, ...] = ("Smt.", "Shri", "Dr.", "Mr.", "Mrs.", "Ms.")

#: Letters used as middle initials (``"Asha K. Rao"`` normalises to ``"asha k rao"``).
INITIALS = "ABCDGKMNPRSTV"

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "yahoo.co.in",
    "outlook.com",
    "rediffmail.com",
    "hotmail.com",
    "example.in",
)

LEAD_SOURCES: tuple[str, ...] = (
    "website",
    "whatsapp",
    "99acres",
    "magicbricks",
    "housing",
    "walk_in",
    "referral",
)

BUDGET_BANDS: tuple[str, ...] = ("<50L", "50L-1Cr", "1-1.5 Cr", "1.5-2 Cr", "2-3 Cr", ">3 Cr")

SUMMARIES: tuple[str, ...] = (
    "Asked about 3BHK units in New Town",
    "Follow-up call on the revised quote",
    "Site visit at Skyline Residency",
    "Sent brochure and floor plans",
    "Discussed home loan options",
    "Negotiated the parking charges",
    "Client asked for an east-facing unit",
    "Booking amount discussed",
    "No answer; will call back",
    "Shared payment schedule",
)

NEXT_ACTIONS: tuple[str, ...] = (
    "Call on Friday",
    "Send cost sheet",
    "Arrange second site visit",
    "Share loan partner details",
    "Confirm booking date",
)
