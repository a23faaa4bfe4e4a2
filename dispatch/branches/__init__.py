"""Party branches (党支部), the care households they assist (结对帮扶), and service records."""
